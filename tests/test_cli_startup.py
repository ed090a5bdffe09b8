"""Commands that do not run the model do not load torch: `drumd --help`, render, remap and the
other file commands start in a fraction of a second, not the 1.5 s torch's import takes (a
third of the 5 s every command has on a 1 MB file: bench/midi_files_bench.py)."""
import subprocess
import sys


def test_the_cli_loads_without_torch():
    code = ("import sys, drumd.daemon.cli; "
            "print(sorted(m for m in ('torch', 'drumd.engine.sampler') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
