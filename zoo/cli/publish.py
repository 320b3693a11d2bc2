"""``zoo publish NAME --repo-id ORG/REPO [--dry-run OUT_DIR]``."""

from __future__ import annotations

import argparse
import json

from .command import Command


def _publish_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo model name (see `zoo list`)")
    p.add_argument("--repo-id", required=True, help="ORG/REPO on the Hugging Face Hub")
    p.add_argument("--private", action="store_true", help="create the repo private (if it does not exist)")
    p.add_argument("--dry-run", metavar="OUT_DIR", help="only write the repo folder to OUT_DIR; upload nothing")
    p.add_argument("--revision", help="branch to commit to (default main; the branch must exist)")
    p.add_argument("--commit-message", help="default: 'Publish NAME (gan-zoo)'")
    p.add_argument("--weights", help="local copy of the upstream file, for entries whose weights are not bundled")


def cmd_publish(args: argparse.Namespace) -> int:
    from ..publish import publish
    from ..registry import get_entry
    from ..serialization import EMA_FILE

    folder, commit = publish(args.name, args.repo_id, private=args.private, dry_run=args.dry_run,
                             revision=args.revision, commit_message=args.commit_message, weights=args.weights)
    if commit is None:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                print(f"  {path.name:<26} {path.stat().st_size:>10,d} B")
        print(f"wrote {folder}: the repo folder of {args.name} for {args.repo_id} (dry run, nothing uploaded)")
        print(f"check it: zoo sample {folder} --out grid.png")
        return 0
    sha = commit.oid
    print(f"committed {args.name} to {args.repo_id}: {commit.commit_url}")
    print(f"commit {sha}")
    print(f"pin it:  zoo.load('hf://{args.repo_id}@{sha}')")
    entry = get_entry(args.name)
    digest = _weights_sha(entry)
    if digest:
        hub = {"repo_id": args.repo_id, "filename": EMA_FILE, "revision": sha, "sha256": digest}
        print(f"index record: \"hub\": {json.dumps(hub)}")
    return 0


def _weights_sha(entry) -> str | None:
    from ..serialization import EMA_FILE, sha256_file

    if entry.bundled_dir is not None and (entry.bundled_dir / EMA_FILE).is_file():
        return (entry.weights.get("sha256") or {}).get(EMA_FILE) or sha256_file(entry.bundled_dir / EMA_FILE)
    return None


COMMANDS = [Command("publish", "publish a model to the Hugging Face Hub as one commit (or --dry-run a folder)",
                    _publish_args, cmd_publish)]
