# Gradio's demo/chatinterface_streaming_echo/run.py (gradio-app/gradio at 375335e, Apache-2.0)
# with only its import changed.
import time
import webchat as gr

def slow_echo(message, history):
    for i in range(len(message)):
        time.sleep(0.05)
        yield "You typed: " + message[: i + 1]

demo = gr.ChatInterface(
    slow_echo,
    flagging_mode="manual",
    flagging_options=["Like", "Spam", "Inappropriate", "Other"],
    save_history=True,
)

if __name__ == "__main__":
    demo.launch()
