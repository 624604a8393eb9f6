# Gradio's demo/chatinterface_random_response/run.py (gradio-app/gradio at 375335e, Apache-2.0)
# with only its import changed.
import random
import webchat as gr

def random_response(message, history):
    return random.choice(["Yes", "No"])

demo = gr.ChatInterface(random_response, autofocus=False, api_name="chat")

if __name__ == "__main__":
    demo.launch()
