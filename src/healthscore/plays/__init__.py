"""Plays: scenarios over the alerts that become tasks (:mod:`healthscore.plays.tasks`)."""

from healthscore.plays.hook import attach_tasks, notify_tasks
from healthscore.plays.tasks import ARM_TASK, empty_tasks, make_tasks, play_applies, task_id

__all__ = ["ARM_TASK", "attach_tasks", "notify_tasks", "empty_tasks", "make_tasks", "play_applies", "task_id"]
