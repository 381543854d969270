"""Every block_id and action_id the app emits, in one place so listeners and builders agree."""

MENUS_BLOCK = "wfd_menus"
TASTE_SELECT = "wfd_taste_select"
TIME_SELECT = "wfd_time_select"
SUGGEST = "wfd_suggest"

VOTE_BLOCK = "wfd_vote"
VOTE_UP = "wfd_vote_up"
VOTE_DOWN = "wfd_vote_down"
TRY_ANOTHER = "wfd_try_another"

HOME_BLOCK = "wfd_home"
HOME_SUGGEST = "wfd_home_suggest"

ALL_ACTION_IDS = (TASTE_SELECT, TIME_SELECT, SUGGEST, VOTE_UP, VOTE_DOWN, TRY_ANOTHER, HOME_SUGGEST)
