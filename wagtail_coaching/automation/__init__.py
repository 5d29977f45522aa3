"""Journey automation: rules the team defines once (``AutomationRule``), fired by what
happens on the journey timeline (``dispatch``) or by time passing (``timed``), each at most
once per enrollment and occurrence (``engine.fire``), every firing on the timeline."""
