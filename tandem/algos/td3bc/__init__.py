"""TD3+BC (Fujimoto & Gu 2021), an offline learner: TD3's critic, an actor regularised towards the dataset's actions."""
