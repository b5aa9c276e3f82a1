"""tandem's restaurant dialogue domain: ontology, venue database, agenda-based user, belief tracker, envs."""
