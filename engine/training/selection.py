"""Which evaluation a training run keeps as best.pt, and when it has stopped improving.

Every evaluation scores the held-out files twice (nats per 16th):

- **events**: the event NLL, how surprised the model is by which drums hit;
- **all**: the events plus, for the hits, their velocity and timing NLL (hits a 16th x nats a
  hit): the likelihood of the whole performance.

`select_on` picks one of them, or **auto** (fine-tuning's default): "all" once an evaluation has
beaten the starting model on it, else "events" (from scratch there is no starting model: "all").
Measured why (bench/finetune_bench.py, the numbers in engine/training/train.py): on a pack of programmed loops the fine-tune gains most in
velocity and timing (on the grid, two or three levels a drum), which only "all" sees; on a
library of human playing like the shipped model's own, velocity and timing never beat the
start, so "all" would keep the start and none of the library's habits (its ride), while
"events" keeps the evaluation that learnt them. Patience counts evaluations since best.pt last
changed (early stopping: Prechelt, "Early Stopping - But When?", 1998).
"""
from __future__ import annotations

import math

SELECT_ON = ("events", "all", "auto")


class Selection:
    """The running choice of best.pt for one run.

    mode: one of SELECT_ON; hits: the held-out files' hits a 16th (weights the velocity and
    timing NLL a hit into "all"). Raises ValueError for another mode."""

    def __init__(self, mode: str, hits: float):
        if mode not in SELECT_ON:
            raise ValueError(f"select_on {mode!r}: expected one of {', '.join(SELECT_ON)}")
        self.mode, self.hits = mode, hits
        self.best_events = self.best_all = math.inf
        self.all_gained = mode == "all"  # auto: has an evaluation after the start beaten it on "all"?
        self.bad_evals = 0
        # this command's own: the iteration best.pt was last written at (None: not yet), and the
        # velocity and timing NLL a hit of that evaluation and of the fine-tune's start
        self.kept: int | None = None
        self.kept_expr = self.start_expr = math.nan

    @property
    def on(self) -> str:
        """What best.pt is chosen on now: "events" or "all"."""
        return "all" if self.all_gained else "events"

    @property
    def best(self) -> float:
        """best.pt's score on what it is chosen on (inf before the first evaluation)."""
        return self.best_all if self.all_gained else self.best_events

    @property
    def what(self) -> str:
        """`on` in words, for the run's messages."""
        return "with velocity and timing" if self.all_gained else "events"

    @property
    def expression_worse(self) -> bool:
        """Whether best.pt, chosen on the events, has worse velocity and timing than the
        fine-tune's start (both evaluated by this command)."""
        return not self.all_gained and self.kept_expr > self.start_expr

    def _whole(self, val_nll: float, val_expr: float) -> float:
        return val_nll + self.hits * val_expr

    def score(self, val_nll: float, val_expr: float) -> float:
        """One evaluation's score on what best.pt is chosen on now (`on`), nats per 16th."""
        return self._whole(val_nll, val_expr) if self.all_gained else val_nll

    def judge(self, val_nll: float, val_expr: float, iteration: int) -> bool:
        """Take the evaluation at `iteration`: val_nll the event NLL a 16th, val_expr the velocity
        and timing NLL a hit; iteration 0 is a fine-tune's starting model. Returns whether it
        becomes best.pt (so the caller saves it now), and counts it toward patience if not."""
        start = iteration == 0
        whole = self._whole(val_nll, val_expr)
        events_better, all_better = val_nll < self.best_events, whole < self.best_all
        self.best_events = min(self.best_events, val_nll)
        self.best_all = min(self.best_all, whole)
        if self.mode == "auto" and all_better and not start:
            self.all_gained = True
        keep = all_better if self.all_gained else events_better
        self.bad_evals = 0 if keep else self.bad_evals + 1
        if start:
            self.start_expr = val_expr
        if keep:
            self.kept, self.kept_expr = iteration, val_expr
        return keep

    def state(self) -> dict:
        """What last.pt keeps of it, for --resume."""
        return {"mode": self.mode, "best_events": self.best_events, "best_all": self.best_all,
                "all_gained": self.all_gained, "bad_evals": self.bad_evals}

    def resume(self, state: dict) -> None:
        """Continue from state() (a last.pt from before this module: its "best" and "bad_evals",
        read as the run's own mode's best)."""
        if "selection" in state:
            s = state["selection"]
            self.best_events, self.best_all = s["best_events"], s["best_all"]
            self.all_gained, self.bad_evals = s["all_gained"], s["bad_evals"]
            return
        self.bad_evals = state["bad_evals"]
        if self.mode == "all":
            self.best_all = state["best"]
        else:
            self.best_events = state["best"]
