"""The bottom layer: small helpers any layer may use (time zones, people's display names,
money, input checks, exports), one module each. Nothing here imports from the rest of the
package."""
