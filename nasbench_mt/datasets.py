from nasbench_mt.tasks import TaskSpec

SCENE_TASKS = (
    TaskSpec("digit", "classification", 10),
    TaskSpec("count", "classification", 4),
    TaskSpec("seg", "dense", 11, 16),
)
