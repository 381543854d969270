"""`python -m bot.personalizer.local.evaluation`: the evaluation worker process (see worker.py)."""

from bot.personalizer.local.evaluation.worker import main

main()
