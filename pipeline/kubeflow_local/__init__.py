"""``quickdraw kubeflow run-local``: run the compiled Kubeflow pipeline JSON on this machine before submitting it.

``spec`` reads the JSON, ``launcher`` does what the KFP launcher does for one container
task (with KFP's own executor-input and placeholder code), ``conditions`` evaluates the
trigger conditions, ``metadata`` stands in for the backend's metadata store (resolvers,
cache), and ``runner`` walks the DAG.
"""
