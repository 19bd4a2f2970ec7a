"""The official openai client, unchanged, against rag serve (run by scripts/test-clients.sh)."""
import base64
import os
import struct

from openai import OpenAI, NotFoundError, BadRequestError

client = OpenAI(base_url=os.environ["RAG_BASE"], api_key="test-key", max_retries=0, timeout=120)
question = "How does speculative decoding speed up generation?"

# Non-streaming chat completion: an answer, usage, and rag's citations beside the standard fields.
reply = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": question}], max_tokens=16)
assert reply.object == "chat.completion", reply
assert reply.choices[0].message.role == "assistant" and reply.choices[0].message.content, reply
assert reply.choices[0].finish_reason in ("stop", "length"), reply
assert reply.usage.prompt_tokens > 50 and reply.usage.completion_tokens > 0, reply.usage
citations = reply.model_extra.get("citations") or []
assert citations and citations[0]["document"].endswith("speculative-decoding.md"), citations
print(f"chat: {reply.choices[0].message.content!r} ({reply.usage.completion_tokens} tokens, [1] {citations[0]['document'].rsplit('/', 1)[-1]})")

# Streaming chat completion: role first, content deltas, a finish reason, usage at the end.
pieces, finish, usage = [], None, None
stream = client.chat.completions.create(
    model="rag:default", messages=[{"role": "user", "content": "What does the KV cache store?"}],
    max_tokens=12, stream=True, stream_options={"include_usage": True})
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
assert pieces and finish in ("stop", "length") and usage and usage.total_tokens > 0, (pieces, finish, usage)
print(f"chat stream: {len(pieces)} deltas, {''.join(pieces)!r}, finish {finish}")

# Embeddings: the client asks for base64 unless told; both must agree, 384-d, unit length.
a = client.embeddings.create(model="all-MiniLM-L6-v2", input=["speculative decoding", "kv cache"])
b = client.embeddings.create(model="all-MiniLM-L6-v2", input="speculative decoding", encoding_format="float")
assert len(a.data) == 2 and len(a.data[0].embedding) == 384, a
assert max(abs(x - y) for x, y in zip(a.data[0].embedding, b.data[0].embedding)) < 1e-6
norm = sum(x * x for x in b.data[0].embedding) ** 0.5
assert abs(norm - 1) < 1e-3, norm
print(f"embeddings: 2 × {len(a.data[0].embedding)}-d, norm {norm:.4f}, usage {a.usage.prompt_tokens} tokens")

# Errors surface as the client's exceptions with our message.
try:
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("an unknown model was accepted")
except NotFoundError as error:
    assert "does not exist" in str(error)
try:
    client.chat.completions.create(model="rag", messages=[{"role": "user", "content": " "}])
    raise AssertionError("an empty question was accepted")
except BadRequestError as error:
    assert "empty" in str(error)
print("openai client: passed")
