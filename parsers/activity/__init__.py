"""The activity shards: the event rules, the fast scanner and its C loop, the source pick."""
