# Gradio's demo/chatbot_component/run.py (gradio-app/gradio at 375335e, Apache-2.0)
# with only its import changed.
import webchat as gr

with gr.Blocks() as demo:
    gr.Chatbot(value=[  # type: ignore
        {"role": "user", "content": "Hello World"},
        {"role": "assistant", "content": "Hey Gradio!"},
        {"role": "user", "content": "❤️"},
        {"role": "assistant", "content": "😍"},
        {"role": "user", "content": "🔥"},
        {"role": "assistant", "content": "🤗"}
    ])

demo.launch()
