"""What a MAC is, written once: the cost counter, the CLI and every report state this."""

MAC_CONVENTION = ("MACs: multiply-accumulates per image, forward pass (conv, linear, fusion weightings); "
                  "1 MAC = 2 FLOPs")
