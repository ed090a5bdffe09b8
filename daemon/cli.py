"""The `drumd` command: one group, subcommands contributed by each layer."""
import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="drumd")
def main():
    """drumd: a real-time drum-groove generator that plays beside your DAW."""


def _register():
    # Each layer owns its commands; the CLI only gathers them.
    from drumd.mappings import cli as mappings_cli
    for cmd in mappings_cli.COMMANDS:
        main.add_command(cmd)


_register()
