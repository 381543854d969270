"""Optimization discovery: which learning policies an evaluation tries beside the ones it was sent.

The space searched is a fixed grid over four choices, of which a handful of points are tried:
  - exploration algorithm: epsilon-greedy (at the loop's explorationPercentage), --synthcover, --squarecb;
  - interactions: none, context×action (-q CA), plus context×context×action (--interactions CCA), all (-q ::);
  - learning rate: VW's default (0.5, decaying) or Personalizer's (-l 0.001 --power_t 0);
  - cost estimator (--cb_type): mtr (VW's default) or dr.
Every point is a policy Personalizer's learning settings could hold, so the best can be applied as is.
"""

from __future__ import annotations

import shlex

from bot.personalizer.local.evaluation.replay import DISCOVERED, Candidate

MICROSOFT_DEFAULT = "--cb_explore_adf --epsilon 0.2 --power_t 0 -l 0.001 --cb_type mtr -q ::"
SPACE = (
    MICROSOFT_DEFAULT,
    "--cb_explore_adf -q CA --cb_type mtr",
    "--cb_explore_adf -q CA --interactions CCA --cb_type mtr",
    "--cb_explore_adf -q CA --interactions CCA --cb_type dr",
    "--cb_explore_adf -q CA --interactions CCA --synthcover",
    "--cb_explore_adf -q CA --interactions CCA --squarecb",
    "--cb_explore_adf -q :: --synthcover",
    "--cb_explore_adf --synthcover",
)


def same_policy(left: str, right: str) -> bool:
    """Whether two argument strings name the same options (order of options aside)."""
    return _options(left) == _options(right)


def discovered(online_policy: str, taken: list[str], limit: int = len(SPACE)) -> list[Candidate]:
    """The grid's points not already evaluated (the online policy, custom ones), named as Personalizer did."""
    out: list[Candidate] = []
    for arguments in SPACE:
        if same_policy(arguments, online_policy) or any(same_policy(arguments, t) for t in taken):
            continue
        out.append(Candidate(f"Hyper{len(out) + 1}", DISCOVERED, arguments))
        if len(out) == limit:
            break
    return out


def _options(arguments: str) -> frozenset[tuple[str, ...]]:
    words = shlex.split(arguments)
    groups: list[tuple[str, ...]] = []
    for word in words:
        if word.startswith("-") and not _number(word) or not groups:
            groups.append((word,))
        else:
            groups[-1] = (*groups[-1], word)
    return frozenset(groups)


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True
