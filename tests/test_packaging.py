"""A non-editable install (a built wheel) carries the code, the default rules and the script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from paths import REPO


@pytest.mark.slow
def test_wheel_installs_and_finds_its_default_rules(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(REPO),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("listhygiene-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "listhygiene/rules/ingest.toml" in names
    assert "listhygiene/rules/presets/mailchimp.toml" in names
    assert "listhygiene/schemas/rejects.py" in names
    assert "listhygiene/rules/lists/aftership-role.txt" in names
    assert "listhygiene/templates/report.html.j2" in names
    assert "listhygiene/templates/report.css" in names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "listhygiene = listhygiene.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import listhygiene, listhygiene.cli, listhygiene.ruleset as r;"  # cli imports every module
        "rules = r.load_rules();"
        "print(listhygiene.__file__); print(r.default_rules_dir()); print(sorted(rules.presets));"
        "import listhygiene.report as rp; rp._environment().get_template('report.html.j2');"
        "print(rp.TEMPLATES)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(target)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout.splitlines()
    assert out[0] == str(target / "listhygiene" / "__init__.py")
    assert out[1] == str(target / "listhygiene" / "rules")
    assert {"generic", "hubspot", "klaviyo", "mailchimp", "mailerdash", "misarmail"} <= set(
        eval(out[2])
    )
    assert out[3] == str(target / "listhygiene" / "templates")
