"""The ``selfheal`` command line.

Commands are imported lazily (``LAZY_COMMANDS``) so ``selfheal parse`` starts fast: the
benchmark scorer runs it once per sample, and boto3/moto imports cost a second each.
Each command module is a thin edge over the library: parse options, call a service, print a
table (rich) or JSON (``--json``). ``main`` turns every user mistake (a wrong path, a bad
setting, a wrong option) into one line on standard error and the exit codes of
``selfheal.cli.common.ExitCode``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NoReturn

import click

from selfheal import __version__
from selfheal.cli.common import ExitCode, os_error_code, os_error_line, usage_line
from selfheal.errors import SelfhealError

# command name -> "module:attribute"
LAZY_COMMANDS: dict[str, str] = {
    "parse": "selfheal.cli.parse:parse",
    "ingest": "selfheal.cli.ingest:ingest",
    "errors": "selfheal.cli.errors:errors",
    "prs": "selfheal.cli.prs:prs",
    "fix": "selfheal.cli.workflow:fix",
    "executions": "selfheal.cli.executions:executions",
    "redrive": "selfheal.cli.workflow:redrive",
    "watch": "selfheal.cli.workflow:watch",
    "validate": "selfheal.cli.validate:validate",
    "demo": "selfheal.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None  # command not built yet in this checkout
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, epilog="Exit codes: 0 done, 1 error or fix FAILED, 2 usage mistake "
                                    "(option, path or setting), 3 fix abstained, 130 interrupted.")
@click.version_option(__version__, prog_name="selfheal")
def cli() -> None:
    """selfheal: find Python tracebacks in logs, group them, and open reviewed fix PRs.

    \b
    Example:
      selfheal ingest app.log --repo ~/src/orders && selfheal errors
    """


def _fail(message: str, code: ExitCode) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(int(code))


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: run the CLI, turning every mistake into one clear line."""
    try:
        result = cli.main(args=argv, prog_name="selfheal", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare `selfheal`: the help, not a mistake
        click.echo(exc.format_message())
        sys.exit(int(ExitCode.OK))
    except click.exceptions.Abort:
        _fail("interrupted", ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INTERRUPTED)
    except click.UsageError as exc:
        _fail(usage_line(exc), ExitCode.USAGE)
    except click.ClickException as exc:
        _fail(exc.format_message(), ExitCode.ERROR)
    except SelfhealError as exc:
        from selfheal.settings import InvalidSettings  # pydantic: only on this path (startup time)

        _fail(str(exc), ExitCode.USAGE if isinstance(exc, InvalidSettings) else ExitCode.ERROR)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:
        _fail(os_error_line(exc), os_error_code(exc))
    except Exception as exc:
        # AWS mode (--table, bedrock:): no credentials, no region, access denied. Matched by the
        # exception's package (botocore is imported lazily, only by the commands that use it).
        if not type(exc).__module__.startswith("botocore."):
            raise  # a bug: keep the traceback
        _fail(f"AWS: {exc}; check the AWS credentials, region and permissions", ExitCode.ERROR)
    # standalone_mode=False returns ctx.exit(n)'s code instead of exiting
    if isinstance(result, int) and result:
        sys.exit(result)
    return result
