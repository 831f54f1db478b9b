"""HTTP entry points: the BentoML segmentation service (`minivess serve`) and the Gradio viewer (`minivess app`)."""

from typing import Final

STARTUP_ERROR_FILE: Final = "startup-error.txt"  # in BENTOML_HOME: why a worker could not load the model
