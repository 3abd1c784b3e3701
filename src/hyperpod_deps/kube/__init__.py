"""The only code that talks to the Kubernetes API server.

Everything above this layer asks it typed questions (does this object exist,
may I create that, what does the server run) and gets plain manifests back;
no other package imports a Kubernetes client.
"""
