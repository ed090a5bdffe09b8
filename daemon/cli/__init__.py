"""The `drumd` command: one group, subcommands contributed by each layer."""
import os

# Batch-1 model steps are tiny matrix-vector products: BLAS worker threads only add wake-up
# latency (and fight the DAW for cores). Must be set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click  # noqa: E402


class DrumdGroup(click.Group):
    """The one handler of user errors: a DrumdError escaping any command is printed as one line
    (`Error: ...`, click's form) with exit status 1, never a traceback."""

    def invoke(self, ctx):
        """Runs the command; a DrumdError becomes click's one-line `Error: ...`, exit 1."""
        from drumd.mappings.basics.errors import DrumdError
        try:
            return super().invoke(ctx)
        except DrumdError as e:
            raise click.ClickException(str(e)) from None


@click.group(cls=DrumdGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="drumd")
@click.option("-v", "--verbose", count=True, help="Say more on stderr (-v: debug details).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def main(verbose, quiet):
    """drumd: a real-time drum-groove generator that plays beside your DAW."""
    from drumd.daemon import logs
    logs.configure(-1 if quiet else verbose)  # the one place drumd's logging is set up


def _register():
    # Each layer owns its commands; the CLI only gathers them.
    from drumd.daemon.cli import audio as audio_cli
    from drumd.daemon.cli import serve as daemon_cli
    from drumd.engine import cli as engine_cli
    from drumd.mappings import cli as mappings_cli
    for layer in (mappings_cli, engine_cli, daemon_cli, audio_cli):
        for cmd in layer.COMMANDS:
            main.add_command(cmd)


_register()
