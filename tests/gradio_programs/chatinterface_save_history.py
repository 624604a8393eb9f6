# Gradio's demo/chatinterface_save_history/run.py (gradio-app/gradio at 375335e, Apache-2.0)
# with only its import changed.
import webchat as gr

def echo_multimodal(message, history):
    response = "You wrote: '" + message["text"] + "' and uploaded: " + str(len(message["files"])) + " files"
    return response

demo = gr.ChatInterface(
    echo_multimodal,
    multimodal=True,
    textbox=gr.MultimodalTextbox(file_count="multiple"),
    save_history=True,
)

if __name__ == "__main__":
    demo.launch()
