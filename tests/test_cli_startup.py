"""`drumd --help` and every command's options load without torch and without the model: the
CLI starts in a fraction of a second, not the 1.5 s torch's import took (bench/startup_bench.py).
The player's commands run without torch at all: tests/test_play_without_torch.py."""
import subprocess
import sys


def test_the_cli_loads_without_torch():
    code = ("import sys, drumd.daemon.cli; "
            "print(sorted(m for m in ('torch', 'drumd.engine.sampling.sampler') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
