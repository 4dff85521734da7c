"""The meta-game and its environments (the ground floor: imports neither agents nor mediator)."""


def parallel_env(game="example1", **kwargs):
    """PettingZoo's naming convention: ``envs.parallel_env(game=..., rounds=...)``."""
    from envs.design_env import parallel_env as make  # lazy: keep `import envs` light

    return make(game, **kwargs)
