"""Plays: scenarios over the alerts that become tasks (:mod:`healthscore.plays.tasks`),
with hold-outs by design (:mod:`healthscore.plays.assign`) and their measured uplift
(:mod:`healthscore.plays.uplift`)."""

from healthscore.plays.assign import ARM_HOLDOUT, ARM_TASK, assign_arms
from healthscore.plays.hook import attach_tasks, notify_tasks, read_tasks
from healthscore.plays.tasks import empty_tasks, make_tasks, play_applies, task_id

__all__ = ["ARM_HOLDOUT", "ARM_TASK", "assign_arms", "attach_tasks", "notify_tasks", "read_tasks",
           "empty_tasks", "make_tasks", "play_applies", "task_id"]
