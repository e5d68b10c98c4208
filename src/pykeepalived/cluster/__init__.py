"""pykeepalived-cluster: the nodes' files checked together, and "what if" asked of them."""
