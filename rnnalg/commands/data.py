"""`rnnalg data fetch ptb` and `rnnalg data list [--verbose]`: the named datasets on this machine.

The music sets ship inside the package; Penn Treebank is downloaded by the user, verified,
into --data-dir, else $RNNALG_DATA, else the cache (see rnnalg/data/folders.py for the order
in which a named dataset is looked up).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..data import fetch as fetching
from ..data import folders, registry
from ..data.dataset import NAMED, _canonical
from ..errors import UsageError
from ..values import flag_type

TAKES_SPEC = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    text = "download a dataset, verify its checksums, store it where rnnalg finds it"
    f = sub.add_parser("fetch", help=text, description=text + (
        f". Stored in --data-dir, else ${folders.ENV}, else the cache ({folders.cache_dir()})."))
    f.add_argument("name", metavar="NAME", help=f"dataset to fetch: {', '.join(fetching.FETCHERS)} "
                   "(the word and the character files)")
    f.add_argument("--source", action="append", metavar="URL",
                   help="where to download from, tried in turn (repeatable): a folder URL the file "
                        f"names are appended to, or a URL with {{split}}; default ${fetching.SOURCES_ENV} "
                        "(URLs separated by spaces), else the built-in public copies")
    f.add_argument("--timeout", type=flag_type("--timeout"), default=fetching.DEFAULT_TIMEOUT,
                   metavar="SECONDS",
                   help=f"give up on a source after this many seconds without data, or in which it "
                        f"sent less than {fetching.MIN_RATE:,} bytes a second (default "
                        f"{fetching.DEFAULT_TIMEOUT:g})")
    f.add_argument("--data-dir", metavar="DIR", help=f"store here instead of ${folders.ENV} or the cache")
    f.set_defaults(_action=run_fetch)
    text = ("show every named dataset: embedded, cached (its checksums verified), corrupt or missing, "
            "and where")
    ls = sub.add_parser("list", help=text, description=text)
    ls.add_argument("-v", "--verbose", action="store_true", help="also licence and provenance")
    ls.add_argument("--data-dir", metavar="DIR", help="a data folder to look in first (after the package)")
    ls.set_defaults(_action=run_list)


def run(args: argparse.Namespace) -> int:
    return args._action(args)


# ---- fetch --------------------------------------------------------------------------------

def run_fetch(args: argparse.Namespace) -> int:
    name = args.name.strip().lower()
    if name not in fetching.FETCHERS:
        canonical = _canonical(name)
        origin = registry.ORIGINS.get(canonical)
        if origin is not None and origin.embedded:
            print(f"{canonical} ships inside the package ({registry.embedded_path(canonical)}); "
                  "nothing to fetch")
            return 0
        if origin is None or origin.fetch is None:
            raise UsageError(f"cannot fetch {args.name!r}: fetchable datasets are "
                             f"{', '.join(fetching.FETCHERS)}; the music sets ship inside the package")
        name = origin.fetch
    folder = folders.store_folder(args.data_dir)
    urls = fetching.sources(args.source)
    print(f"fetching {name} into {folder}")
    written = fetching.FETCHERS[name](folder.path, urls, args.timeout)
    print(f"{name}: done ({written} file{'s' if written != 1 else ''} written)" if written else
          f"{name}: already complete, nothing to do")
    return 0


# ---- list ---------------------------------------------------------------------------------

KNOWN_FILES = {spec.rel: spec for spec in (*fetching.PTB_WORDS.values(), *fetching.PTB_CHARS.values())}


def _status(name: str, data_dir: str | None) -> tuple[str, str]:
    """('embedded' | 'cached' | 'corrupt' | 'unverified' | 'missing', where it is or how to get it).

    A dataset in a data folder is 'cached' only when every file has its listed size and hashes
    (fetch.py's table); 'corrupt' names the first that does not; 'unverified': no hashes listed."""
    packaged = registry.embedded_path(name)
    if packaged is not None:
        return "embedded", str(packaged)
    paths = NAMED[name].paths
    folder = folders.locate(paths, data_dir)
    fetch = registry.ORIGINS[name].fetch_command()
    if folder is None:
        return "missing", f"get it with: {fetch}"
    where = f"{folder.path / Path(paths[0]).parent} ({folder.origin})"
    unknown = [rel for rel in paths if rel not in KNOWN_FILES]
    if unknown:
        return "unverified", f"{where}; no checksums are listed for {unknown[0]}"
    bad = [rel for rel in paths if not fetching.verified(folder.path / rel, KNOWN_FILES[rel])]
    if bad:
        return "corrupt", (f"{where}; {Path(bad[0]).name} does not have its listed size and checksums"
                           f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}; "
                           f"{fetch or 'replace it'} replaces what is damaged")
    return "cached", f"{where}, verified"


def run_list(args: argparse.Namespace) -> int:
    rows = [(name, *_status(name, args.data_dir)) for name in NAMED]
    width = max(len(name) for name in NAMED) + 2
    column = max(len(status) for _, status, _ in rows) + 2
    print(f"{'dataset':<{width}}{'status':<{column}}where")
    for name, status, where in rows:
        print(f"{name:<{width}}{status:<{column}}{where}")
        if args.verbose:
            origin = registry.ORIGINS[name]
            for line in (origin.title, f"licence: {origin.licence}", f"provenance: {origin.provenance}"):
                print(" " * (width + column) + line)
    env = os.environ.get(folders.ENV)
    print(f"\nlookup order: the package, then --data-dir, then ${folders.ENV} "
          f"({env or 'unset'}), then the cache ({folders.cache_dir()}); "
          f"`rnnalg data fetch` stores in {folders.store_folder(args.data_dir).path}")
    return 0
