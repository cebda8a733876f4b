"""Atomic report output: everything is built in a staging folder and moved into place at the end.

How ``--out DIR`` is treated:

- DIR does not exist: the report is built in a hidden staging folder next to
  it (same file system) and renamed to DIR at the end, in one step. Missing
  parent folders are created only then.
- DIR exists: only the report's own entries (``report.html``, ``report.md``,
  ``figures/``, ``tables/`` and the manifest ``.osltools-report.json``) are
  replaced, each by a rename, once the new report is complete; anything else in
  DIR is left alone. Entries of those names that the manifest does not list
  (files ``osl report`` did not write) make the run stop *before* any work,
  with an error naming them, so nothing of yours is ever overwritten or deleted.
- A failure (or Ctrl-C) before the end removes the staging folder: DIR is
  untouched, or never appears.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..exceptions import ConfigError

__all__ = ["MANAGED", "MANIFEST", "StagedReport"]

MANIFEST = ".osltools-report.json"
MANAGED = ("report.html", "report.md", "figures", "tables", MANIFEST)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")  # pragma: no cover - the root always exists


def _previous_files(out: Path) -> set[str]:
    manifest = out / MANIFEST
    if not manifest.exists():
        return set()
    try:
        return set(json.loads(manifest.read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{manifest} is damaged ({err}); remove it and the report files, or choose another --out") \
            from None


def _foreign_entries(out: Path) -> list[str]:
    """Report-named entries of an existing DIR that a previous ``osl report`` did not write."""
    known = _previous_files(out)
    foreign = []
    for name in MANAGED:
        entry = out / name
        if not entry.exists() or name == MANIFEST:
            continue
        if entry.is_dir():
            foreign += [str(p.relative_to(out)) for p in sorted(entry.rglob("*"))
                        if p.is_file() and str(p.relative_to(out)) not in known]
        elif name not in known:
            foreign.append(name)
    return foreign


class StagedReport:
    """A staging folder for a report bound for ``out`` (see the module notes); use as a context manager.

    Examples
    --------
    >>> with StagedReport("my-report") as stage:  # doctest: +SKIP
    ...     (stage.path / "report.md").write_text("# hello")
    ...     stage.commit()
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self._check()
        anchor = _nearest_existing(self.out.parent)
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.osl-staging-", dir=anchor))
        except OSError as err:
            raise ConfigError(f"cannot write the report to {str(self.out)!r}: {err.strerror or err} "
                              f"(in {str(anchor)!r})") from None
        self.committed = False

    def _check(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {str(out)!r} exists and is not a folder (expected a folder for the report)")
        anchor = _nearest_existing(out.parent if not out.exists() else out)
        if not anchor.is_dir():
            raise ConfigError(f"cannot write the report to {str(out)!r}: {str(anchor)!r} is a file, not a folder")
        if not os.access(anchor, os.W_OK | os.X_OK):
            raise ConfigError(f"cannot write the report to {str(out)!r}: {str(anchor)!r} is not writable")
        if out.is_dir():
            foreign = _foreign_entries(out)
            if foreign:
                shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                raise ConfigError(f"--out {str(out)!r} already holds {shown}, not written by osl report; "
                                  "choose another folder or move them away (nothing was changed)")

    def write_manifest(self, extra: dict | None = None) -> None:
        """List every file of the staged report (so a later run may replace exactly these)."""
        files = sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file())
        (self.path / MANIFEST).write_text(json.dumps({"files": files, **(extra or {})}, indent=1) + "\n")

    def commit(self) -> Path:
        """Move the staged report into place (one rename for a new folder; one per entry for an existing one)."""
        if not (self.path / MANIFEST).exists():
            self.write_manifest()
        if not self.out.exists():
            self.out.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.path, self.out)
        else:
            self._replace_entries()
        self.committed = True
        return self.out

    def _replace_entries(self) -> None:
        self._check()  # the folder may have changed while the report was built
        old = self.path / ".replaced"
        old.mkdir()
        moved: list[tuple[Path, Path]] = []  # (from, to) renames done, for a rollback
        try:
            for name in MANAGED:
                if (self.out / name).exists():
                    os.rename(self.out / name, old / name)
                    moved.append((self.out / name, old / name))
            for name in MANAGED:
                if (self.path / name).exists():
                    os.rename(self.path / name, self.out / name)
                    moved.append((self.path / name, self.out / name))
        except OSError:
            for source, target in reversed(moved):
                os.rename(target, source)
            raise
        shutil.rmtree(self.path, ignore_errors=True)

    def discard(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> StagedReport:
        return self

    def __exit__(self, *exc) -> None:
        if not self.committed:
            self.discard()
