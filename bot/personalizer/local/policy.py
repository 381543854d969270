"""The Vowpal Wabbit policy: predict a distribution over actions, learn one labelled event, save, load."""

from __future__ import annotations

import functools
import os
import shlex
import tempfile
import threading

try:
    import pylibvw
    from vowpalwabbit import Workspace
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("The local ranker needs Vowpal Wabbit: pip install vowpalwabbit") from exc

# Policies that explore in their own way: explorationPercentage is mixed into their distribution
# (ranking.explore). Every other policy is epsilon-greedy, and VW's --epsilon is set to it.
_OWN_EXPLORATION = {
    "--squarecb", "--regcb", "--regcbopt", "--cover", "--synthcover", "--softmax", "--first",
    "--bag", "--rnd", "--large_action_space",
}  # fmt: skip
# Not a VW option: a policy with it adds each action's ID as a feature (`id=<id>` in namespace A).
ACTION_ID_OPTION = "--action_id_feature"
MULTISLOT_OPTION = "--ccb_explore_adf"


@functools.lru_cache(maxsize=64)
def _words(policy: str) -> tuple[str, ...]:
    # Asked on every rank (is_multislot), and shlex costs more than the rest of the check: a loop has a
    # policy or two, an evaluation a grid of ten.
    return tuple(shlex.split(policy))


def uses_action_ids(policy: str) -> bool:
    """True when the policy asks for each action's ID as a feature."""
    return ACTION_ID_OPTION in _words(policy)


def explores_itself(policy: str) -> bool:
    """True for policies with their own exploration, into which explorationPercentage is mixed."""
    return bool(_OWN_EXPLORATION.intersection(_words(policy)))


def is_multislot(policy: str) -> bool:
    """True for a conditional contextual bandit policy: the loop then ranks slots (multi-slot)."""
    return MULTISLOT_OPTION in _words(policy)


def vw_words(policy: str) -> list[str]:
    """The policy's words that go to VW (the action-ID option is the loop's, not VW's)."""
    return [word for word in _words(policy) if word != ACTION_ID_OPTION]


def load_policy(policy: str, exploration: float, model: bytes | None = None) -> Policy:
    """A workspace for a loop's policy (its words as the loop stores them) at this exploration."""
    return Policy(
        effective_arguments(policy, exploration),
        model,
        action_ids=uses_action_ids(policy),
        mixes=explores_itself(policy),
    )


def effective_arguments(policy: str, exploration: float) -> str:
    """The VW arguments to run: the policy, with --epsilon set from explorationPercentage where it applies."""
    words = vw_words(policy)
    if _OWN_EXPLORATION.intersection(words):
        return " ".join(words)
    kept: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word == "--epsilon":
            skip_next = True
            continue
        if word.startswith("--epsilon="):
            continue
        kept.append(word)
    return " ".join([*kept, "--epsilon", repr(float(exploration))])


# Learning options a policy may use. Anything else (files, data sources, daemons, predictions or audit
# output) is refused: policies arrive over the REST API.
ALLOWED_OPTIONS = frozenset(
    """
    --cb_explore_adf --ccb_explore_adf --cb_adf --cb_type --epsilon --first --bag --greedify --cover --psi --nounif
    --synthcover --synthcoverpsi --synthcoversize --squarecb --gamma_scale --gamma_exponent --elim
    --mellowness --regcb --regcbopt --softmax --lambda --rnd --rnd_alpha --rnd_invlambda --large_action_space
    --max_actions --cb_min_cost --cb_max_cost --baseline --clip_p
    -q --quadratic --cubic --interactions --ignore --ignore_linear --keep --noconstant --constant
    -l --learning_rate --power_t --initial_t --decay_learning_rate --l1 --l2 -b --bit_precision
    --adaptive --normalized --invariant --sgd --coin --ftrl --pistol --ftrl_alpha --ftrl_beta
    --loss_function --hash --hash_seed --random_seed --quiet
    """.split()
)


def check_policy(policy: str) -> None:
    """Raise ValueError unless these are learning options VW accepts for a contextual bandit policy."""
    words = vw_words(policy)
    for word in words:
        option = word.split("=", 1)[0]
        if option.startswith("-") and not _is_number(option) and option not in ALLOWED_OPTIONS:
            raise ValueError(f"{option} is not a learning option a policy may use")
    if "--cb_explore_adf" not in words and MULTISLOT_OPTION not in words:
        raise ValueError("policy must contain --cb_explore_adf (or --ccb_explore_adf for multi-slot)")
    try:
        Workspace(" ".join(words) + " --quiet").finish()
    except RuntimeError as exc:
        raise ValueError(f"Vowpal Wabbit rejects the policy: {exc}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Policy:
    """One VW workspace. Thread-safe: every call holds the workspace's lock."""

    def __init__(
        self,
        arguments: str,
        model: bytes | None = None,
        *,
        action_ids: bool = False,
        mixes: bool = False,
    ) -> None:
        self.arguments = arguments
        self.multislot = MULTISLOT_OPTION in arguments.split()  # a CCB policy: it ranks slots
        self.action_ids = action_ids  # the actions' IDs are features (--action_id_feature)
        self.mixes = mixes  # explorationPercentage is mixed into its distribution (ranking.explore)
        self._lock = threading.Lock()
        if model is None:
            self._vw = Workspace(arguments + " --quiet")
        else:
            self._vw = _load(arguments, model)

    # predict and learn call VW's own bindings (pylibvw, which pyvw wraps) directly: pyvw builds a Python
    # Example object per line, and that was a third of a rank's time and half of the trainer's.
    # vowpalwabbit is pinned in requirements.txt; the learner tests cover both calls.

    def predict(self, lines: list[str]) -> list[float]:
        """The policy's probability for each action line, in order."""
        with self._lock:
            examples = self._vw._parse("\n".join(lines))
            try:
                pylibvw.vw.predict_multi(self._vw, examples)
                return list(examples[0].get_action_scores())
            finally:
                pylibvw.vw._finish_example_multi_ex(self._vw, examples)

    def predict_slots(self, lines: list[str]) -> list[list[tuple[int, float]]]:
        """A CCB example's prediction: for each slot, (action position, probability) pairs."""
        with self._lock:
            examples = self._vw._parse("\n".join(lines))
            try:
                pylibvw.vw.predict_multi(self._vw, examples)
                return [list(scores) for scores in examples[0].get_decision_scores()]
            finally:
                pylibvw.vw._finish_example_multi_ex(self._vw, examples)

    def learn(self, lines: list[str]) -> None:
        """Learn one ADF or CCB example whose chosen action line carries `0:cost:probability`."""
        with self._lock:
            examples = self._vw._parse("\n".join(lines))
            try:
                pylibvw.vw.learn_multi(self._vw, examples)
            finally:
                pylibvw.vw._finish_example_multi_ex(self._vw, examples)

    def to_bytes(self) -> bytes:
        """The model, as VW saves it (with its arguments and training state)."""
        with self._lock, tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model")
            self._vw.save(path)
            with open(path, "rb") as handle:
                return handle.read()

    def close(self) -> None:
        """Release VW's memory."""
        with self._lock:
            self._vw.finish()


def _load(arguments: str, model: bytes) -> Workspace:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model")
        with open(path, "wb") as handle:
            handle.write(model)
        try:
            return Workspace(f"{arguments} -i {shlex.quote(path)} --quiet")
        except RuntimeError as exc:
            raise ValueError(f"not a Vowpal Wabbit model for this policy: {exc}") from None
