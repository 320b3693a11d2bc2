"""Hugging Face Hub I/O: Hub specs, downloads into the normal Hub cache, and one-line errors for what goes wrong.

Nothing here knows what a zoo model is; ``zoo.serialization`` reads the files these functions fetch. Downloads honour
``HF_HUB_OFFLINE`` and ``HF_HUB_CACHE``; nothing is unpickled.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

from .errors import HubEntryMissingError, HubError, InvalidArgumentError

HF_PREFIX = "hf://"
#: A branch, tag or commit sha: what the Hub accepts, and nothing that could walk out of a cache folder.
REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def check_revision(revision: str) -> str:
    if not isinstance(revision, str) or not REVISION.fullmatch(revision) or ".." in revision:
        raise InvalidArgumentError(f"{revision!r} is not a revision: give a branch, tag or commit sha "
                                   f"(letters, digits, '.', '_', '-', '/')")
    return revision


def parse_hf_spec(spec: str) -> tuple[str, str]:
    """``"hf://ORG/REPO[@REV]"`` -> ``("ORG/REPO", REV or "main")``."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    body = spec[len(HF_PREFIX):] if spec.startswith(HF_PREFIX) else spec
    repo_id, _, revision = body.partition("@")
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        repo_id = ""
    if repo_id.count("/") != 1 or (body.count("@") and not revision):
        raise InvalidArgumentError(f"{spec!r} is not a Hub spec: write hf://ORG/REPO or hf://ORG/REPO@REVISION")
    return repo_id, check_revision(revision or "main")


def hub_download(repo_id: str, filename: str, revision: str, *, hint: str = "") -> Path:
    """``hf_hub_download`` into the normal Hub cache, with one-line errors that say what to fetch or set.

    ``hint`` is appended to the offline message (e.g. how to pass a local copy instead).
    """
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import HFValidationError

    where = f"{repo_id}/{filename} at revision {revision}"
    check_revision(revision)
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision))
    except RevisionNotFoundError:
        raise HubError(f"{repo_id} has no revision {revision!r}: pin a branch, tag or commit sha that exists "
                       f"(see {constants.ENDPOINT}/{repo_id}/commits/main)") from None
    except RepositoryNotFoundError:
        raise HubError(f"the Hub has no repo {repo_id} you can read: check the name, or log in "
                       f"(`hf auth login` or HF_TOKEN) if it is private or gated") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as err:
        if not constants.is_offline_mode():
            raise HubError(f"cannot download {where} and it is not in the Hub cache ({constants.HF_HUB_CACHE}): "
                           f"check the connection{hint}") from None
        cached = cached_revisions(repo_id)
        if cached and revision not in cached and not any(sha.startswith(revision) for sha in cached):
            raise HubError(f"unknown revision {revision!r} of {repo_id}: the Hub cache has only "
                           f"{', '.join(sorted(cached))}; use one of those, or unset HF_HUB_OFFLINE to look it up"
                           ) from None
        if cached and isinstance(err, LocalEntryNotFoundError) and _known_missing(repo_id, revision, filename):
            raise HubEntryMissingError(repo_id, filename, revision) from None
        raise HubError(f"{where} is not in the Hub cache ({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE=1: unset "
                       f"HF_HUB_OFFLINE to download it, or fetch it once with `hf download {repo_id} {filename} "
                       f"--revision {revision}`{hint}") from None
    except EntryNotFoundError:
        raise HubEntryMissingError(repo_id, filename, revision) from None
    except HfHubHTTPError as err:
        raise HubError(f"the Hub refused {where}: {first_line(err)}") from None
    except HFValidationError as err:
        raise InvalidArgumentError(f"cannot ask the Hub for {where}: {first_line(err)}") from None
    except OSError as err:  # the cache could not be written: a full disk, no permission
        reason = "no space left on device" if err.errno == errno.ENOSPC else (err.strerror or first_line(err)).lower()
        raise HubError(f"cannot download {where} into the Hub cache ({constants.HF_HUB_CACHE}): {reason}: free some "
                       f"space or set HF_HUB_CACHE to another folder") from None


def cached_revisions(repo_id: str) -> set[str]:
    """Branch/tag names and commit shas of ``repo_id`` in the Hub cache (empty if the repo is not cached)."""
    folder = _storage_folder(repo_id)
    refs, snapshots = folder / "refs", folder / "snapshots"
    names = {p.relative_to(refs).as_posix() for p in refs.rglob("*") if p.is_file()} if refs.is_dir() else set()
    return names | ({p.name for p in snapshots.iterdir() if p.is_dir()} if snapshots.is_dir() else set())


def commit_of(path: Path, filename: str) -> str:
    """The commit sha of a cached file ``.../snapshots/<sha>/<filename>``."""
    return path.parents[len(Path(filename).parts) - 1].name


def first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _storage_folder(repo_id: str) -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))


def _known_missing(repo_id: str, revision: str, filename: str) -> bool:
    """True if huggingface_hub cached the fact that ``filename`` does not exist at ``revision``."""
    folder = _storage_folder(repo_id)
    ref = folder / "refs" / revision
    sha = ref.read_text().strip() if ref.is_file() else revision
    return (folder / ".no_exist" / sha / filename).exists()
