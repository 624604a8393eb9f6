# Gradio's demo/multimodaltextbox_component/run.py (gradio-app/gradio at 375335e, Apache-2.0)
# with only its import changed.
import webchat as gr

with gr.Blocks() as demo:
    gr.MultimodalTextbox(interactive=True)

demo.launch()
