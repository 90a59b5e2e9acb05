"""Running turns: agent backends (claude | demo) and the TurnRunner that drives them."""
