print("forwarder: not yet")
