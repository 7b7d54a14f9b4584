"""The root Typer app, its error funnel, and the command groups mounted on it."""

import importlib
import inspect
import os
import sys
import types
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cogid import __version__, output
from cogid.errors import ExitCode, from_exception

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _defer_import(module: str, name: str) -> None:
    """Let `from <module> import <name>` succeed at once; <module> really loads when first used.

    Typer's help renderer imports rich.markdown (markdown-it, ~35 ms) and rich.traceback
    (pygments, ~8 ms) up front, though cogid's help is rich markup and its errors are one line:
    together a quarter of `cogid --help`. Anything that does use them gets the real thing
    (though an isinstance check against the stand-in class is False).
    """
    if module in sys.modules:
        return
    package, _, name_in_package = module.rpartition(".")
    stand_in = types.ModuleType(module)

    def real_module() -> types.ModuleType:
        if sys.modules.get(module) is stand_in:
            del sys.modules[module]
        return importlib.import_module(module)

    class Deferred(type):
        def __call__(cls, *args: Any, **kwargs: Any) -> Any:  # Markdown(text)
            return getattr(real_module(), name)(*args, **kwargs)

        def __getattr__(cls, attribute: str) -> Any:  # Traceback.from_exception(...)
            return getattr(getattr(real_module(), name), attribute)

    def other_names(attribute: str) -> Any:
        if attribute.startswith("__"):  # the import system probing (__path__, __spec__...)
            raise AttributeError(attribute)
        return getattr(real_module(), attribute)

    vars(stand_in).update({name: Deferred(name, (), {}), "__getattr__": other_names})
    sys.modules[module] = stand_in
    setattr(importlib.import_module(package), name_in_package, stand_in)  # `rich.markdown.X` too


_defer_import("rich.markdown", "Markdown")
_defer_import("rich.traceback", "Traceback")


def _leave_lingering_threads() -> None:
    """After Ctrl-C, exit at once if threads are still in calls to an endpoint (bulk issuing on
    the aws backend): the interpreter would otherwise wait out their timeouts before exiting."""
    import threading

    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        import contextlib

        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):
                stream.flush()
        os._exit(ExitCode.INTERRUPTED)


def _debug() -> bool:
    return os.environ.get("COGID_DEBUG", "") not in ("", "0")


class CogidGroup(TyperGroup):
    """The root group: every failure leaves as one line on stderr with its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            _leave_lingering_threads()
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except BrokenPipeError:
            # The reader of stdout has gone (`cogid ... | head -1`): stop quietly, as Unix tools
            # do, and let nothing try to write to it again on the way out.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(ExitCode.BROKEN_PIPE) from None
        except Exception as error:
            known = from_exception(error)
            if known is None and type(error).__module__.startswith(("typer", "click")):
                raise  # usage errors: formatted by main() below
            if _debug():
                import traceback  # ~10 ms at start-up: only when asked for

                traceback.print_exc()  # frames only: locals hold tokens and keys
            if known is None:
                output.error(f"unexpected {type(error).__name__}: {error} (run with COGID_DEBUG=1 for details)")
                raise typer.Exit(ExitCode.ERROR) from None
            output.error(str(known))
            raise typer.Exit(known.exit_code) from None
        finally:
            not_made = output.end_dry_run()
            if not_made is not None:
                output.message(f"dry run: nothing changed; {len(not_made)} change(s) not made")

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        from typer._click import exceptions as click_exceptions

        try:
            result = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except click_exceptions.ClickException as error:  # usage: one line, as for every error
            if type(error).__name__ == "NoArgsIsHelpError":
                sys.exit(ExitCode.USAGE)  # the help is already shown
            context = getattr(error, "ctx", None)
            where = context.command_path if context is not None else "cogid"
            output.error(f"{error.format_message()} (see '{where} --help')")
            sys.exit(ExitCode.USAGE if isinstance(error, click_exceptions.UsageError) else error.exit_code)
        except typer.Abort:
            sys.exit(ExitCode.INTERRUPTED)
        sys.exit(result if isinstance(result, int) else 0)


def _version(value: bool) -> None:
    if value:
        output.write(f"cogid {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (env COGID_DEBUG)")] = False,
) -> None:
    """Amazon Cognito developer-authenticated identities, on AWS or on this machine.

    Issue identity ids and signed OpenID tokens for your users, link their social logins,
    and exchange tokens for temporary AWS credentials. The default `local` profile runs an
    embedded Cognito Identity service; `cogid quickstart` shows the whole flow.
    """
    if debug:
        os.environ["COGID_DEBUG"] = "1"
    from cogid import config

    output.end_dry_run()  # a run before this one (tests run many in one process) left none on
    # The config and data directories are checked (owner, mode) at their first use in this
    # command, and loose files warned about once: not before, so `cogid pool --help` runs anyway.
    config.new_run()


# The command groups, and the modules of the top-level commands by command name, in help order.
GROUPS = ("profile", "pool", "provider", "token", "identity", "keys", "social", "sync")
COMMANDS = {
    "quickstart": "quickstart",
    "link": "link",
    "unlink": "link",
    "creds": "creds",
    "exec": "creds",
    "serve": "serve",
}
WHOLE_TREE_OPTIONS = ("--help", "-h", "--install-completion", "--show-completion")


def make_app(command: str | None = None) -> typer.Typer:
    """The root app with the command groups mounted: only what `command` (a command line's first
    word) needs when it names a group or a command, else all of them. Typer builds the click
    tree of whatever is mounted at every start, ~70 ms for all of cogid's; `token issue` needs
    its group's alone."""
    app = typer.Typer(
        name="cogid",
        cls=CogidGroup,
        context_settings=CONTEXT,
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        help="Amazon Cognito developer-authenticated identities, on AWS or on this machine.",
    )
    app.callback()(root)
    if command in GROUPS:
        groups, modules = [command], []
    elif command in COMMANDS:
        groups, modules = [], [COMMANDS[command]]
    else:
        groups, modules = list(GROUPS), list(dict.fromkeys(COMMANDS.values()))
    for name in groups:
        app.add_typer(importlib.import_module(f"cogid.cli.{name}").app, name=name)
    for name in modules:
        importlib.import_module(f"cogid.cli.{name}").register(app)
    _unwrap_help(app)
    return app


def _unwrapped(doc: str | None) -> str | None:
    """A docstring with each paragraph on one line, for the terminal to wrap: Typer's rich help
    keeps a docstring's line breaks, which at any other width than the source's come out ragged.
    A line that is indented (an example) or follows one ending in ':' stays a line of its own."""
    if not doc:
        return doc
    lines: list[str] = []
    for line in inspect.cleandoc(doc).splitlines():
        joins = lines and lines[-1] and line and not line[0].isspace() and not lines[-1][0].isspace()
        if joins and not lines[-1].endswith(":"):
            lines[-1] += " " + line
        else:
            lines.append(line)
    return "\n".join(lines)


def _unwrap_help(app: typer.Typer) -> None:
    for info in app.registered_commands:
        info.help = _unwrapped(info.help or (info.callback.__doc__ if info.callback else None))
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _unwrap_help(group.typer_instance)


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app for a command line: the whole tree for the root's help or completion (and for
    a first word that is no command: the error lists them all), else the first word's."""
    words = [arg for arg in args if not arg.startswith("-")]
    root_options = args[: args.index(words[0])] if words else list(args)
    if not words or os.environ.get("_COGID_COMPLETE") or any(o.startswith(WHOLE_TREE_OPTIONS) for o in root_options):
        return make_app()
    return make_app(words[0])


def __getattr__(name: str) -> Any:
    """`app`: every command mounted (tests run it with any arguments; completion scripts)."""
    if name == "app":
        made = globals()["app"] = make_app()
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
