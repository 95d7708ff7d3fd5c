"""statsfirst's Prefect flows (the deployments in prefect.yaml point at these files).

Everything Prefect lives here: ``@flow``/``@task``, loggers, retries, artifacts, states. The flows are thin: they
call the library (``statsfirst``), which takes plain ``log``/progress callables and knows nothing of Prefect.
Flows import each other as ``flows.<name>`` (``statsfirst.flow_support.flows_package`` makes that work however a
flow file was loaded).
"""
