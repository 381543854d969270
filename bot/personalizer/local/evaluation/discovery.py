"""Optimization discovery: which learning policies an evaluation tries beside the ones it was sent.

The space searched is a fixed grid over five choices, of which nine points are tried (eight when one of
them is the online policy, as the project's default is):
  - exploration algorithm: epsilon-greedy (at the loop's explorationPercentage), --synthcover (with VW's
    psi or --synthcoverpsi 0.01), --squarecb;
  - interactions: none, context×action (-q CA), plus context×context×action (--interactions CCA), plus
    context×action×action (CCA,CAA), all (-q ::);
  - learning rate: VW's default (0.5, decaying) or Personalizer's (-l 0.001 --power_t 0);
  - cost estimator (--cb_type): mtr (VW's default) or dr;
  - the action's ID as a feature (--action_id_feature) or not: it pays when the same actions come back,
    and costs when every action is new.
Every point is a policy Personalizer's learning settings could hold, so the best can be applied as is.
"""

from __future__ import annotations

import shlex

from bot.personalizer.local.evaluation.replay import DISCOVERED, Candidate

MICROSOFT_DEFAULT = "--cb_explore_adf --epsilon 0.2 --power_t 0 -l 0.001 --cb_type mtr -q ::"
SYNTHCOVER_CCA = "--cb_explore_adf -q CA --interactions CCA --synthcover"
SYNTHCOVER_CAA = "--cb_explore_adf -q CA --interactions CCA,CAA --synthcover --synthcoverpsi 0.01"
SPACE = (
    MICROSOFT_DEFAULT,
    "--cb_explore_adf -q CA --cb_type mtr",
    SYNTHCOVER_CCA,
    f"{SYNTHCOVER_CCA} --action_id_feature",
    SYNTHCOVER_CAA,
    f"{SYNTHCOVER_CAA} --action_id_feature",
    "--cb_explore_adf -q CA --interactions CCA --cb_type dr --action_id_feature",
    "--cb_explore_adf -q CA --interactions CCA --squarecb",
    "--cb_explore_adf -q :: --synthcover --action_id_feature",
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
