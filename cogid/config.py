"""Profiles in config.toml, where cogid keeps its files, and which setting wins.

Precedence for every setting: command-line flag > COGID_* environment variable > profile >
built-in default. With no config at all the profile `local` (local backend, us-east-1) works.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cogid.errors import CogidError, ConfigError, UsageError

VERSION = 1
DEFAULT_PROFILE = "local"
BACKENDS = ("local", "aws")
# What AWS accepts in each setting: checked when it is written or read, not when AWS refuses it.
PATTERNS = {
    # us-east-1, us-gov-west-1, cn-north-1, eusc-de-east-1: botocore's partitions allow these shapes
    "region": (re.compile(r"[a-z]{2,4}(-[a-z0-9]+)+-\d{1,2}"), "an AWS region such as us-east-1"),
    "identity_pool_id": (
        re.compile(r"[a-z]{2,4}(-[a-z0-9]+)+-\d{1,2}:[0-9a-f-]+"),
        "REGION:UUID, e.g. us-east-1:0c1d...",
    ),
    "endpoint_url": (re.compile(r"(?i:https?)://[^\s/?#]+(/\S*)?"), "an http:// or https:// URL"),
    # botocore's DeveloperProviderName shape
    "developer_provider": (re.compile(r"[\w._-]{1,128}"), "a name of 1 to 128 letters, digits, '.', '_' and '-'"),
}


@dataclass
class Profile:
    name: str = DEFAULT_PROFILE
    backend: str = "local"
    region: str = "us-east-1"
    identity_pool_id: str | None = None
    developer_provider: str | None = None
    aws_profile: str | None = None
    endpoint_url: str | None = None

    def settings(self) -> dict[str, Any]:
        """The profile's keys as written in config.toml (unset ones left out)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "name" and getattr(self, f.name) is not None
        }


SETTINGS = tuple(f.name for f in fields(Profile) if f.name != "name")


def home() -> Path | None:
    value = os.environ.get("COGID_HOME")
    return Path(value) if value else None


def config_path() -> Path:
    """config.toml; its directory (and the data directory) checked first, once a run."""
    check_places()
    return _config_path()


def data_dir() -> Path:
    """Where the store and the caches are; checked first (with the config directory), once a run."""
    check_places()
    return _data_dir()


def _config_path() -> Path:
    base = home()
    if base is not None:
        return base / "config.toml"
    import platformdirs

    return platformdirs.user_config_path("cogid") / "config.toml"


def _data_dir() -> Path:
    base = home()
    if base is not None:
        return base
    import platformdirs

    return platformdirs.user_data_path("cogid")


STORE_NAME = "local.sqlite3"  # the local backend's store in the data directory (cogid.local)
_checked: set[tuple[Path, Path]] = set()  # (config dir, data dir) pairs found safe in this run


def new_run() -> None:
    """Forget what was checked: each command checks (and warns) once. The CLI calls this as a
    command starts; tests run many commands in one process."""
    _checked.clear()


def check_places() -> None:
    """Refuse a config or data directory (or the credentials cache in it) that another user owns
    or can write to: they could read the keys and credentials cogid keeps there, or swap in
    files and links of their own. Warn (once, and run on) about a store or cached credentials
    that group or others may read, or a config.toml they may write. Done at the first use of
    either directory in a run (so not by `cogid --help`)."""
    config_dir, data = _config_path().parent, _data_dir()
    if (config_dir, data) in _checked:
        return
    for directory in dict.fromkeys((config_dir, data, data / "cache")):
        check_private_dir(directory)
    if not os.environ.get("_COGID_COMPLETE"):  # shell completion: no lines on the user's prompt
        # config.toml holds no secrets and an editor makes it 0644: only others writing to it
        # matters (they could point a profile at their endpoint). The store and cache hold keys
        # and credentials: nobody else may even read them.
        _warn_loose([(_config_path(), 0o022), (data / STORE_NAME, 0o077)])
        _warn_loose([(path, 0o077) for path in _files_in(data / "cache")])
    _checked.add((config_dir, data))


def check_private_dir(directory: Path) -> None:
    """Refuse `directory` if it exists and another user owns it or group or others can write to it."""
    import stat

    if not hasattr(os, "geteuid"):  # not a POSIX system: no owners and modes to compare
        return
    try:
        found = os.stat(directory)
    except (FileNotFoundError, NotADirectoryError):
        return  # cogid makes it, 0700
    except OSError as error:
        raise ConfigError(f"{directory}: cannot use: {error.strerror}") from None
    if not stat.S_ISDIR(found.st_mode):
        return  # not a directory: whatever uses it reports that
    me = os.geteuid()
    # Root too: root writing keys and credentials into a directory another user owns is the
    # hostile-neighbour case (they can read them, or replace them with links to root's files);
    # sudo keeping the invoking user's HOME would do exactly that.
    if found.st_uid != me:
        raise ConfigError(
            f"{directory} is owned by {_user(found.st_uid)}, not by {_user(me)} who runs cogid, and cogid keeps"
            f" keys and credentials in it: use a directory of your own (COGID_HOME),"
            f" or chown {_user_name(me)} {directory}"
        )
    if found.st_mode & 0o022:
        who = " and ".join(w for w, bit in (("group", 0o020), ("others", 0o002)) if found.st_mode & bit)
        raise ConfigError(
            f"{directory} is writable by {who} (mode {stat.S_IMODE(found.st_mode):04o}), who could replace"
            f" the keys and credentials cogid keeps in it: chmod 700 {directory}"
        )


def _user(uid: int) -> str:
    name = _user_name(uid)
    return f"uid {uid}" if name == str(uid) else f"{name} (uid {uid})"


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _files_in(directory: Path) -> list[Path]:
    try:
        with os.scandir(directory) as entries:
            return [Path(entry.path) for entry in entries]
    except OSError:
        return []


def _warn_loose(files: list[tuple[Path, int]]) -> None:
    """One line on stderr for each regular file here with any of its mode bits set (group's or
    others'): a store, config or cached credentials restored from a backup or copied. The
    command runs all the same."""
    import stat
    import sys

    from cogid.output import visible

    for path, too_wide in files:
        try:
            found = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(found.st_mode) and found.st_mode & too_wide and found.st_size:  # 0 bytes: nothing to read
            line = f"{path} has mode {stat.S_IMODE(found.st_mode):04o}, wider than 0600: chmod 600 {path}"
            try:
                sys.stderr.write(f"cogid: warning: {visible(line)}\n")
                sys.stderr.flush()
            except OSError:
                pass


MAX_CONFIG_BYTES = 1 << 20  # a config of a few profiles is a few hundred bytes
# tomllib recurses once per level of arrays and inline tables (a RecursionError past a few
# hundred) and takes time quadratic in a dotted key's length (a 1 MiB one: most of an hour), so
# both are bounded before it reads the text. cogid's own keys are at most 3 parts, 2 levels deep.
MAX_DEPTH = 64
MAX_KEY_PARTS = 32
_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]{}=,.\n]")
_BASIC_STRING = re.compile(r'(?:[^"\\\n]|\\.)*"')  # the rest of one, after its opening quote
_MULTILINE_BASIC = re.compile(r'(?:[^\\]|\\.)*?"""', re.DOTALL)


def load() -> dict[str, Any]:
    """The whole config document; an empty one if the file does not exist."""
    path = config_path()
    data = _read(path)
    if data is None:
        return {"version": VERSION, "profiles": {}}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            f"{path}: not valid TOML: not UTF-8 (line {line}): byte {data[error.start]:#04x}, {error.reason}"
        ) from None
    _check_shape(text, path)
    import tomllib  # imported when a config is read, not by `cogid --help`

    try:
        document = tomllib.loads(text)
    except RecursionError:  # _check_shape should have stopped it; never a traceback if not
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except ValueError as error:  # TOMLDecodeError, or an integer of more than 4300 digits
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    _check(document, path)
    return document


def _read(path: Path) -> bytes | None:
    """config.toml's bytes, None if there is none. Only a regular file of at most
    MAX_CONFIG_BYTES is read: opened without blocking (a FIFO would wait for a writer) and
    checked before reading (a directory, a device such as /dev/zero, a 100 MB file)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kinds = {
                stat.S_IFDIR: "a directory",
                stat.S_IFIFO: "a FIFO",
                stat.S_IFCHR: "a character device",
                stat.S_IFBLK: "a block device",
                stat.S_IFSOCK: "a socket",
            }
            kind = kinds.get(stat.S_IFMT(mode), "not a regular file")
            raise ConfigError(f"{path}: is {kind}, not a file: move it away (cogid writes a new one)")
        chunks, size = [], 0
        while size <= MAX_CONFIG_BYTES and (chunk := os.read(fd, MAX_CONFIG_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    finally:
        os.close(fd)
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: is larger than 1 MiB, which no cogid config is: is it the right file?")
    return b"".join(chunks)


def _check_shape(text: str, path: Path) -> None:
    """Refuse, naming the line, arrays and tables nested deeper than MAX_DEPTH and dotted keys
    (or [table.headers]) of more than MAX_KEY_PARTS parts. Strings and comments are skipped;
    what this scan cannot follow (an unterminated string) is left to tomllib to report."""
    line, depth, dots, pos = 1, 0, 0, 0
    while token := _TOKEN.search(text, pos):
        kind, pos = token.group(), token.end()
        if kind == "\n":
            line, dots = line + 1, 0
        elif kind == ".":  # a number holds one at most; only a dotted key holds more
            dots += 1
            if dots >= MAX_KEY_PARTS:
                raise ConfigError(f"{path}: a dotted key of more than {MAX_KEY_PARTS} parts (line {line})")
        elif kind in "[{":
            depth, dots = depth + 1, 0
            if depth > MAX_DEPTH:
                raise ConfigError(
                    f"{path}: nested too deeply (line {line}): more than {MAX_DEPTH} levels of arrays and tables"
                )
        elif kind in "]}":
            depth, dots = max(depth - 1, 0), 0
        elif kind in "=,":
            dots = 0
        else:  # a comment or a string: skipped whole
            end = _skipped(kind, text, pos)
            if end < 0:
                return
            line, pos = line + text.count("\n", pos, end) * (kind in ('"""', "'''")), end


def _skipped(kind: str, text: str, pos: int) -> int:
    """Where the comment or string that `kind` opened at `pos` ends; -1 if it never does."""
    if kind == "#":
        return text.find("\n", pos)
    if kind == '"':
        match = _BASIC_STRING.match(text, pos)
        return match.end() if match else -1
    if kind == "'":
        end = text.find("'", pos)
        return -1 if end < 0 or "\n" in text[pos:end] else end + 1
    # A multi-line string, which may end in up to two quotes more than its delimiter.
    if kind == '"""':
        match = _MULTILINE_BASIC.match(text, pos)
        end = match.end() if match else -1
    else:
        end = text.find("'''", pos)
        end = end + 3 if end >= 0 else -1
    if end < 0:
        return -1
    for _ in range(2):
        if text.startswith(kind[0], end):
            end += 1
    return end


def _shown(value: Any) -> str:
    """A value from config.toml as a message quotes it: a table or an array by its kind (a
    repr recurses as deep as the table goes, which dotted keys make thousands of levels)."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _check(document: dict[str, Any], path: Path) -> None:
    version = document.get("version", VERSION)
    if type(version) is not int or version != VERSION:  # not true, nor 1.0, which equal 1
        raise ConfigError(f"{path}: version {_shown(version)} is not supported (expected {VERSION})")
    unknown = set(document) - {"version", "default_profile", "profiles"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {_shown(sorted(unknown)[0])}")
    profiles = document.setdefault("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table")
    for name, settings in profiles.items():
        if not name:
            raise ConfigError(f"{path}: a profile name is empty")
        if not name.isprintable():  # `profile list` prints it: no escape sequences
            raise ConfigError(f"{path}: profile name {_shown(name)} holds a character that cannot be printed")
        if not isinstance(settings, dict):
            raise ConfigError(f"{path}: profile {_shown(name)} must be a table")
        for key, value in settings.items():
            check_setting(key, value, where=f"{path}: profile {_shown(name)}")
    default = document.get("default_profile", DEFAULT_PROFILE)
    if not isinstance(default, str) or (default not in profiles and default != DEFAULT_PROFILE):
        raise ConfigError(f"{path}: default_profile {_shown(default)} is not one of its profiles")


def check_setting(key: str, value: Any, where: str, error: type[CogidError] = ConfigError) -> None:
    """Refuse a setting cogid does not know or a value it cannot use, naming `where` it came from."""
    if key not in SETTINGS:
        raise error(f"{where}: unknown setting {key!r} (known: {', '.join(SETTINGS)})")
    if not isinstance(value, str) or not value:
        raise error(f"{where}: {key} must be a non-empty string")
    if not value.isprintable():  # a line break, an escape sequence, bytes that are not UTF-8
        raise error(f"{where}: {key} {value[:80]!r} holds a character that cannot be printed")
    if key == "backend" and value not in BACKENDS:
        raise error(f"{where}: backend must be one of {', '.join(BACKENDS)}, not {value!r}")
    if key in PATTERNS and not PATTERNS[key][0].fullmatch(value):
        raise error(f"{where}: {key} {value[:80]!r} is not {PATTERNS[key][1]}")


def option_for(key: str) -> str:
    """The command-line option that sets `key`."""
    return "--pool" if key == "identity_pool_id" else "--" + key.replace("_", "-")


def point_at_pool(settings: dict[str, Any], pool_id: str, developer_provider: str | None) -> None:
    """Make a profile's settings use `pool_id`: in the pool's region (its id says it), with the
    pool's own developer provider, never one left from the previous pool."""
    settings["identity_pool_id"] = pool_id
    settings["region"] = pool_id.partition(":")[0]
    if developer_provider:
        settings["developer_provider"] = developer_provider
    else:
        settings.pop("developer_provider", None)


def check_aws_profile(name: str) -> None:
    """Refuse an AWS profile (boto3's, for the aws backend) that neither the AWS config nor the
    credentials file has, listing those they have. Read as botocore reads them, without it."""
    import configparser

    found: set[str] = set()
    files = (
        (os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config", True),
        (os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials", False),
    )
    for path, is_config in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(os.path.expanduser(path))
        except configparser.Error:
            continue  # botocore reports a broken file when it is used
        for section in parser.sections():
            if is_config and section.startswith("profile "):
                found.add(section[len("profile ") :].strip())
            elif not is_config or section == "default":
                found.add(section.strip())
    if name not in found:
        known = ", ".join(sorted(found)) or "none (aws configure --profile NAME makes one)"
        raise UsageError(f"--aws-profile {name[:80]!r}: no such AWS profile (AWS profiles: {known})")


def forget_pool(pool_id: str) -> list[str]:
    """Clear `pool_id` (and its developer provider) from every profile naming it, once the pool
    is deleted; the names of those profiles."""
    with editing() as document:
        named = [name for name, settings in document["profiles"].items() if settings.get("identity_pool_id") == pool_id]
        for name in named:
            document["profiles"][name].pop("identity_pool_id")
            document["profiles"][name].pop("developer_provider", None)
    return named


def check_pool_region(pool_id: str, region: str, error: type[CogidError] = ConfigError) -> None:
    """A pool lives in the region its id names: any other region would not find it."""
    pool_region = pool_id.partition(":")[0]
    if pool_region != region:
        raise error(
            f"identity pool {pool_id} is in {pool_region}, but the region is {region}:"
            " a pool id names its region (leave the region out, or use a pool of that region)"
        )


def write_private(path: Path, data: bytes, follow_symlink: bool = False) -> None:
    """Write a file that may hold secrets: 0600 in a 0700 directory, temp file then rename.

    A symbolic link at `path` is refused: cogid writes secrets only to files of its own. With
    `follow_symlink` (config.toml only, which holds no secrets: a dotfiles link is common) the
    file is written where the link points. Either way nothing is opened through a link: the temp
    file is created with O_EXCL, and the rename replaces a name, never following it."""
    import tempfile

    if follow_symlink:
        path = Path(os.path.realpath(path))
    elif os.path.islink(path):
        raise ConfigError(
            f"{path} is a symbolic link, and cogid writes keys and credentials only to a file of its own:"
            f" remove the link (rm {path})"
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not follow_symlink:  # made by someone else between the check at start and now?
        check_private_dir(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException as error:
        os.unlink(temp)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC and error.filename is None:
            # Name the file: the CLI says "PATH: disk full" (exit 6), not "unexpected OSError".
            raise OSError(errno.ENOSPC, error.strerror, str(path)) from None
        raise


@contextmanager
def editing() -> Iterator[dict[str, Any]]:
    """The config document, to change in place: read under an exclusive lock and, if the block
    changed it and ended without error, written back before the lock goes, so cogid commands
    run at once never lose each other's changes. In a dry run nothing is made or written (not
    the directory, nor the lock file): the document that would be written is printed instead."""
    import copy
    import fcntl

    from cogid import output

    path = config_path()
    if output.dry_running():
        document = load()
        before = copy.deepcopy(document)
        yield document
        if document != before:
            output.planned_file(path, _versioned(document))
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private_dir(path.parent)
    lock_path = path.parent / f".{path.name}.lock"
    flags = os.O_CREAT | os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        lock = os.open(lock_path, flags, 0o600)
    except OSError as error:  # ELOOP: a link where the lock file goes
        raise ConfigError(f"{lock_path}: cannot open the lock file: {error.strerror} (remove it)") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        document = load()
        before = copy.deepcopy(document)
        yield document
        if document != before:
            import tomli_w

            # config.toml holds no secrets, and a symlinked one (dotfiles) is written where it points
            write_private(path, tomli_w.dumps(_versioned(document)).encode(), follow_symlink=True)
    finally:
        os.close(lock)


def _versioned(document: dict[str, Any]) -> dict[str, Any]:
    return {"version": VERSION, **{k: v for k, v in document.items() if k != "version"}}


def selected_name(document: dict[str, Any], flag: str | None = None) -> str:
    """--profile > COGID_PROFILE > default_profile > `local`."""
    if flag == "":
        raise UsageError("--profile: the profile name is empty")
    return flag or os.environ.get("COGID_PROFILE") or document.get("default_profile") or DEFAULT_PROFILE


def resolve(flag: str | None = None, **overrides: str | None) -> Profile:
    """The effective profile: the chosen one, with COGID_* variables and flags on top."""
    document = load()
    name = selected_name(document, flag)
    stored = document["profiles"].get(name)
    if stored is None and name != DEFAULT_PROFILE:
        known = ", ".join(sorted(document["profiles"])) or "none yet (cogid profile add NAME)"
        raise ConfigError(f"profile {name!r} does not exist (profiles: {known})")
    values: dict[str, Any] = dict(stored or {})
    given: dict[str, Any] = {}
    for key in SETTINGS:
        env = os.environ.get(f"COGID_{key.upper()}")
        if env:
            check_setting(key, env, where=f"COGID_{key.upper()}")
            given[key] = env
        if overrides.get(key) is not None:  # an empty flag is refused, not taken as absent
            check_setting(key, overrides[key], where=option_for(key), error=UsageError)
            given[key] = overrides[key]
    if given.get("identity_pool_id", values.get("identity_pool_id")) != values.get("identity_pool_id"):
        values.pop("developer_provider", None)  # the profile's is its own pool's, not this one's
        given.setdefault("region", given["identity_pool_id"].partition(":")[0])  # a pool lives in one region
    return Profile(name=name, **{**values, **given})
