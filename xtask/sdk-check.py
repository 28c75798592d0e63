"""The official OpenAI, Anthropic and Google GenAI Python SDKs, unmodified, against a running gateway.

Run by `cargo xtask sdk-check` with: <gateway base URL> <API key> <model>. Every check asserts; the first
failure ends the run with a non-zero exit status.
"""
import sys

import anthropic
from google import genai
from google.genai import types
from openai import OpenAI

base, key, model = sys.argv[1], sys.argv[2], sys.argv[3]
hello = [{"role": "user", "content": "Say hello"}]


def check(name, condition, detail):
    if not condition:
        sys.exit(f"FAILED {name}: {detail!r}")
    print(f"ok  {name}")


for prefix in ("/v1", "/hf/v1"):
    o = OpenAI(base_url=f"{base}{prefix}", api_key=key, max_retries=0)
    r = o.chat.completions.create(model=model, messages=hello)
    check(f"openai chat ({prefix})", r.choices[0].message.content and r.usage.total_tokens > 0, r)
    chunks = list(o.chat.completions.create(model=model, messages=hello, stream=True,
                                             stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check(f"openai stream ({prefix})", text and chunks[-1].usage and chunks[-1].usage.total_tokens > 0, chunks[-1])
    names = [m.id for m in o.models.list()]
    check(f"openai models ({prefix})", model in names, names)
try:
    OpenAI(base_url=f"{base}/v1", api_key="sk-not-a-key", max_retries=0).chat.completions.create(model=model, messages=hello)
    check("openai bad key", False, "accepted")
except Exception as e:  # the SDK raises its typed error
    check("openai bad key", type(e).__name__ == "AuthenticationError", e)

a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
m = a.messages.create(model=model, max_tokens=100, system="Be brief.", messages=hello)
check("anthropic messages", m.content[0].text and m.usage.output_tokens > 0 and m.stop_reason == "end_turn", m)
with a.messages.stream(model=model, max_tokens=100, messages=hello) as s:
    text = "".join(s.text_stream)
    final = s.get_final_message()
check("anthropic stream", text and final.usage.output_tokens > 0 and final.stop_reason == "end_turn", final)
try:
    anthropic.Anthropic(base_url=base, api_key="sk-not-a-key", max_retries=0).messages.create(
        model=model, max_tokens=10, messages=hello)
    check("anthropic bad key", False, "accepted")
except anthropic.AuthenticationError:
    check("anthropic bad key", True, None)

g = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base))
resp = g.models.generate_content(model=model, contents="Say hello")
check("gemini generate", resp.text and resp.usage_metadata.prompt_token_count > 0, resp)
text = "".join(ch.text or "" for ch in g.models.generate_content_stream(model=model, contents="Say hello"))
check("gemini stream", text, text)
names = [m.name for m in g.models.list()]
check("gemini models", f"models/{model}" in names, names)
print("all SDK checks passed")
