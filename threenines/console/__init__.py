"""The console area: the on-call console (sign-in, overview, acknowledging incidents) and the
council's public status page, server-rendered, reading through the other areas' functions."""
