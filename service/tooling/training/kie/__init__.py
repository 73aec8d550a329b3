"""Training SDMG-R on WildReceipt-format data: reading (dataset), labels conversion (openset),
the loss and loop (losses, train) and checkpoints (checkpoint)."""
