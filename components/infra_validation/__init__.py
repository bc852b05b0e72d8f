"""The InfraValidator stage: a blessed candidate must load and answer in ``quickdraw serve`` before a push."""
