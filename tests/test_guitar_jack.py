"""GuitarFollower on a JACK dummy device, fed by a synthetic guitar played from another process."""
import numpy as np
import pytest

from audio_jack import GUITAR_PLAYER, audio_jack, read_json, stop  # noqa: F401 (fixture)
from jackstack import judged

pytestmark = pytest.mark.jack

BPM = 120.0
BEAT = 60 / BPM
# (start beat, beats, amplitude): a soft phrase, a rest, a loud phrase, then silence
PHRASES = [(0, 4, 0.1), (10, 4, 0.5)]
SECONDS = 10.5

FOLLOWER = r"""
import json, sys, threading, time
from drumd.daemon.sound.guitar import GuitarFollower

rows, done = [], threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
with GuitarFollower(client="drumd-guitar") as f:  # captured by its child process
    f.bpm = %(bpm)r
    print(json.dumps({"ready": True}), flush=True)
    while not done.wait(0.01):  # the daemon polls once per step; we poll faster to see more
        s = f.snapshot()
        rows.append([time.perf_counter(), s.playing, s.intensity, s.phrases, s.phrase_ended,
                     s.accompany])
print(json.dumps({"rows": rows}), flush=True)
"""


def test_follower_gate_and_intensity_follow_a_played_guitar(audio_jack):
    mark = audio_jack.log_mark()
    follower = audio_jack.spawn(FOLLOWER % {"bpm": BPM})
    player = None
    try:
        read_json(follower)
        player = audio_jack.spawn(GUITAR_PLAYER % {"phrases": PHRASES, "bpm": BPM, "seconds": SECONDS})
        read_json(player)
        audio_jack.connect("guitar:out_0", "drumd-guitar:in_0")
        audio_jack.disconnect("system:capture_1", "drumd-guitar:in_0")
        player.stdin.write("go\n")
        player.stdin.flush()
        start = read_json(player)["start"]
        follower.stdin.write("stop\n")
        follower.stdin.flush()
        rows = read_json(follower)["rows"]
    finally:
        stop(follower)
        if player:
            stop(player)

    t = np.array([r[0] for r in rows]) - start
    playing = np.array([r[1] for r in rows])
    intensity = np.array([r[2] for r in rows])
    phrases = np.array([r[3] for r in rows])
    ended = np.array([r[4] for r in rows])
    accompany = np.array([r[5] for r in rows])

    def span(lo, hi):
        return (t >= lo) & (t < hi)

    with judged(audio_jack, mark, {"drumd-guitar"}):  # timing (the follower's capture client)
        assert not playing[t < 0].any()
        for (beat, beats, _), nxt in zip(PHRASES, [p[0] for p in PHRASES[1:]] + [None]):
            on, off = beat * BEAT, (beat + beats) * BEAT
            # the gate opens within 50 ms of the first pluck (audio period + analysis hop + poll)
            assert playing[span(on + 0.05, off)].all()
            # and closes within 1.5 s of the last note, which rings out; until 50 ms before the
            # next phrase, the same allowance as for opening: `start` is stamped in the player's
            # audio callback, which may run late in its cycle (the rest's last sample was seen
            # open once in seven runs)
            rest_end = nxt * BEAT - 0.05 if nxt is not None else SECONDS
            assert not playing[span(off + 1.5, rest_end)].any()
        soft = intensity[span(1.0, 4 * BEAT)].mean()
        loud = intensity[span(10 * BEAT + 1.0, 14 * BEAT)].mean()
        assert loud > soft + 0.2
        # one phrase end per phrase, each reported in exactly one snapshot, a bar after it fades
        assert phrases[-1] == 2 and ended.sum() == 2
        for k, (beat, beats, _) in enumerate(PHRASES):
            t_end = t[np.argmax(phrases > k)]
            assert (beat + beats) * BEAT + 4 * BEAT <= t_end <= (beat + beats) * BEAT + 4 * BEAT + 1.5
        assert accompany[span(0.05, 4 * BEAT + 4 * BEAT)].all() and not accompany[-1]
