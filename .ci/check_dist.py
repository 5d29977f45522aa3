"""Check a built sdist and wheel of wagtail-coaching: both hold the whole package.

    python .ci/check_dist.py DIST_DIR

Every file of the package in the checkout (``git ls-files wagtail_coaching``: code,
migrations, templates, static files, translations) must be in the wheel, under its own path,
and in the sdist, under ``wagtail_coaching-<version>/``; so must the few files named in
``MUST_HOLD``, in case the checkout itself lost them. Prints what it found; exits 1 on a gap.
"""

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "wagtail_coaching"
# A site cannot run without these: one of each kind of file a host needs from the wheel.
MUST_HOLD = [
    f"{PACKAGE}/apps.py",
    f"{PACKAGE}/migrations/0001_initial.py",
    f"{PACKAGE}/management/commands/coaching_roles.py",
    f"{PACKAGE}/templates/{PACKAGE}/base.html",
    f"{PACKAGE}/templates/{PACKAGE}/emails/welcome.txt",
    f"{PACKAGE}/static/{PACKAGE}/coaching.css",
]


def package_files():
    listed = subprocess.run(
        ["git", "ls-files", "-z", PACKAGE], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    return {name for name in listed if name and (ROOT / name).is_file()}


def one(folder, pattern):
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        sys.exit(f"expected one {pattern} in {folder}, found {[p.name for p in found]}")
    return found[0]


def main(folder):
    folder = Path(folder)
    wheel, sdist = one(folder, "*.whl"), one(folder, "*.tar.gz")
    expected = package_files() | set(MUST_HOLD)
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    with tarfile.open(sdist) as archive:
        top = sdist.name.removesuffix(".tar.gz")
        in_sdist = {name.removeprefix(f"{top}/") for name in archive.getnames()}
    failed = False
    for label, names in (("wheel", in_wheel), ("sdist", in_sdist)):
        missing = sorted(expected - names)
        kinds = {
            kind: sum(1 for n in names if f"/{kind}/" in n)
            for kind in ("migrations", "templates", "static", "locale")
        }
        print(f"{label}: {len(names)} files; " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
        if missing:
            failed = True
            print(f"{label} lacks {len(missing)} file(s) of the package:")
            print("\n".join(f"  {name}" for name in missing))
    stray = sorted(n for n in in_wheel if "__pycache__" in n or n.endswith(".pyc"))
    if stray:
        failed = True
        print("wheel holds compiled files:\n" + "\n".join(f"  {name}" for name in stray))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
