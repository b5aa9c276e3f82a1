"""SAC-RND (Nikulin et al. 2023), an offline learner: SAC penalised by an RND anti-exploration bonus."""
