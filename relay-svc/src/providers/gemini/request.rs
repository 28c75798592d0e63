//! Gemini `generateContent` request bodies ⇄ [`chat::Request`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Blob, Content, FileData, FunctionCall, FunctionResponse, WirePart, from_object};
use crate::error::RelayError;
use crate::providers::chat::{
    self, Effort, Image, JsonOutput, Part, Reasoning, Role, Tool, ToolCall, ToolChoice, ToolResult,
};

fn invalid(message: impl Into<String>) -> RelayError {
    RelayError::InvalidRequest(message.into())
}

/// The request fields we translate. `safetySettings`, `cachedContent` and non-function tools (`googleSearch`,
/// `codeExecution`, …) have no counterpart on other channels and are dropped.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentRequest {
    #[serde(default, alias = "system_instruction", skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content>,
    #[serde(default)]
    contents: Vec<Content>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool>,
    #[serde(default, alias = "tool_config", skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig>,
    #[serde(default, alias = "generation_config", skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct WireTool {
    #[serde(default, alias = "function_declarations")]
    function_declarations: Vec<FunctionDeclaration>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionDeclaration {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Google's OpenAPI-subset schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
    /// Plain JSON Schema; what we send, so no schema conversion is needed.
    #[serde(default, alias = "parameters_json_schema", skip_serializing_if = "Option::is_none")]
    parameters_json_schema: Option<Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig {
    #[serde(default, alias = "function_calling_config", skip_serializing_if = "Option::is_none")]
    function_calling_config: Option<FunctionCallingConfig>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(default, alias = "allowed_function_names", skip_serializing_if = "Vec::is_empty")]
    allowed_function_names: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(default, alias = "top_p", skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(default, alias = "top_k", skip_serializing_if = "Option::is_none")]
    top_k: Option<u64>,
    #[serde(default, alias = "max_output_tokens", skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u64>,
    #[serde(default, alias = "stop_sequences", skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(default, alias = "presence_penalty", skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(default, alias = "frequency_penalty", skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(default, alias = "response_mime_type", skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<String>,
    #[serde(default, alias = "response_schema", skip_serializing_if = "Option::is_none")]
    response_schema: Option<Value>,
    #[serde(default, alias = "response_json_schema", skip_serializing_if = "Option::is_none")]
    response_json_schema: Option<Value>,
    #[serde(default, alias = "thinking_config", skip_serializing_if = "Option::is_none")]
    thinking_config: Option<ThinkingConfig>,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    /// Tokens; `0` switches thinking off, `-1` lets the model decide.
    #[serde(default, alias = "thinking_budget", skip_serializing_if = "Option::is_none")]
    thinking_budget: Option<i64>,
    #[serde(default, alias = "include_thoughts", skip_serializing_if = "Option::is_none")]
    include_thoughts: Option<bool>,
    #[serde(default, alias = "thinking_level", skip_serializing_if = "Option::is_none")]
    thinking_level: Option<String>,
}

const JSON_MIME: &str = "application/json";

/// The ids minted for the request's function calls, so that each function response (which names a function, not
/// a call) answers the earliest unanswered call of that function.
#[derive(Default)]
struct CallLedger {
    calls: Vec<MintedCall>,
}

struct MintedCall {
    id: String,
    /// Gemini's own call id, when the client sent one.
    wire_id: Option<String>,
    name: String,
    answered: bool,
}

impl CallLedger {
    fn mint(&mut self, name: &str, wire_id: Option<String>) -> String {
        let id = format!("call_{}", self.calls.len());
        self.calls.push(MintedCall { id: id.clone(), wire_id, name: name.to_string(), answered: false });
        id
    }

    fn answer(&mut self, name: &str, wire_id: Option<&str>) -> Option<String> {
        let by_id = wire_id.and_then(|w| self.calls.iter().position(|c| c.wire_id.as_deref() == Some(w)));
        let i = by_id.or_else(|| self.calls.iter().position(|c| !c.answered && c.name == name))?;
        self.calls[i].answered = true;
        Some(self.calls[i].id.clone())
    }
}

/// How many candidates a Gemini body asks for (`generationConfig.candidateCount`), for the reservation: a
/// Gemini channel gets the client's body as it is, and generates (and bills) every candidate.
pub fn candidate_count(body: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Counted {
        #[serde(default, rename = "generationConfig", alias = "generation_config")]
        config: Option<CandidateCount>,
    }
    #[derive(Deserialize)]
    struct CandidateCount {
        #[serde(default, rename = "candidateCount", alias = "candidate_count")]
        count: Option<u64>,
    }
    serde_json::from_slice::<Counted>(body).ok()?.config?.count
}

/// A Gemini request body (the model comes from the URL path) → the shared representation. `stream` is left to the
/// caller: it comes from the URL action, not the body.
///
/// Gemini's `thoughtSignature` on a non-thought part is kept as an empty [`Part::Thinking`] carrying the signature
/// just before that part, so that [`build_request`] can replay it on the same part to a Gemini channel (Gemini 3
/// refuses a replayed function call without it). Other formats drop it.
pub fn parse_request(body: &[u8], model: &str) -> Result<chat::Request, RelayError> {
    let r: GenerateContentRequest =
        from_object(body).map_err(|e| invalid(format!("invalid Gemini request body: {e}")))?;
    if r.contents.is_empty() {
        return Err(invalid("contents must be a non-empty array"));
    }
    let mut req = chat::Request { model: model.to_string(), ..Default::default() };
    if let Some(system) = r.system_instruction {
        req.system = system.parts.into_iter().filter_map(|p| p.text).filter(|t| !t.is_empty()).collect();
    }
    let mut ledger = CallLedger::default();
    for content in r.contents {
        let role = match content.role.as_deref() {
            None | Some("") | Some("user") => Role::User,
            Some("model") => Role::Assistant,
            Some(other) => {
                return Err(invalid(format!("contents[].role must be \"user\" or \"model\", not {other:?}")));
            }
        };
        for part in content.parts {
            for p in read_part(part, &mut ledger)? {
                match (role, &p) {
                    (Role::User, Part::ToolCall(_)) => return Err(invalid("functionCall parts belong in model turns")),
                    (Role::Assistant, Part::ToolResult(_)) => {
                        return Err(invalid("functionResponse parts belong in user turns"));
                    }
                    _ => req.push(role, p),
                }
            }
        }
    }
    if req.messages.is_empty() {
        return Err(invalid("contents has no parts"));
    }
    for tool in r.tools {
        for f in tool.function_declarations {
            let parameters = f.parameters_json_schema.or(f.parameters.map(json_schema_types));
            req.tools.push(Tool { name: f.name, description: f.description, parameters });
        }
    }
    req.tool_choice = r.tool_config.and_then(|c| c.function_calling_config).and_then(tool_choice_from);
    if let Some(g) = r.generation_config {
        req.temperature = g.temperature;
        req.top_p = g.top_p;
        req.top_k = g.top_k;
        req.max_tokens = g.max_output_tokens;
        req.stop = g.stop_sequences;
        req.seed = g.seed;
        req.presence_penalty = g.presence_penalty;
        req.frequency_penalty = g.frequency_penalty;
        if g.response_mime_type.as_deref() == Some(JSON_MIME) {
            let schema = g.response_json_schema.or(g.response_schema.map(json_schema_types));
            req.json_output = Some(JsonOutput { schema, name: None });
        }
        req.reasoning = g.thinking_config.map(reasoning_from).transpose()?;
    }
    Ok(req)
}

/// One wire part → zero, one or two parts (a signature travels as an empty thinking part before its part).
fn read_part(part: WirePart, ledger: &mut CallLedger) -> Result<Vec<Part>, RelayError> {
    let thought = part.is_thought();
    let mut out = Vec::with_capacity(2);
    if let Some(signature) = part.thought_signature.clone().filter(|_| !thought) {
        out.push(Part::Thinking { text: String::new(), signature: Some(signature) });
    }
    if let Some(call) = part.function_call {
        let arguments = call.arguments();
        let id = ledger.mint(&call.name, call.id);
        out.push(Part::ToolCall(ToolCall { id, name: call.name, arguments }));
    } else if let Some(response) = part.function_response {
        out.push(Part::ToolResult(tool_result(response, ledger)?));
    } else if let Some(blob) = part.inline_data {
        out.push(Part::Image(Image::Inline { mime: blob.mime_type, data: blob.data }));
    } else if let Some(file) = part.file_data {
        out.push(Part::Image(Image::Url(file.file_uri)));
    } else if thought {
        out.push(Part::Thinking { text: part.text.unwrap_or_default(), signature: part.thought_signature });
    } else if let Some(text) = part.text {
        if !text.is_empty() {
            out.push(Part::Text(text));
        }
    } else if out.is_empty() {
        return Err(invalid(
            "this channel takes text, inlineData, fileData, functionCall and functionResponse parts only",
        ));
    }
    Ok(out)
}

/// A function response answers the earliest unanswered call of that function. Its `output` (or `error`) is the
/// result; a string stays as it is, anything else becomes its JSON text. A response with neither is output whole.
fn tool_result(r: FunctionResponse, ledger: &mut CallLedger) -> Result<ToolResult, RelayError> {
    let call_id = ledger.answer(&r.name, r.id.as_deref()).ok_or_else(|| {
        invalid(format!("functionResponse {:?} does not answer an earlier functionCall of that name", r.name))
    })?;
    let (payload, is_error) = match r.response {
        Value::Object(mut o) => match (o.remove("output"), o.remove("error")) {
            (Some(output), _) => (output, false),
            (None, Some(error)) if o.is_empty() => (error, true),
            (None, error) => {
                if let Some(error) = error {
                    o.insert("error".into(), error);
                }
                (Value::Object(o), false)
            }
        },
        other => (other, false),
    };
    let content = match payload {
        Value::String(s) => s,
        other => other.to_string(),
    };
    Ok(ToolResult { call_id, name: Some(r.name), content, is_error })
}

/// Google's OpenAPI-subset schemas name types in upper case (`OBJECT`); JSON Schema wants lower case.
fn json_schema_types(mut schema: Value) -> Value {
    fn walk(v: &mut Value) {
        let Value::Object(o) = v else { return };
        if let Some(Value::String(t)) = o.get_mut("type") {
            t.make_ascii_lowercase();
        }
        if let Some(Value::Object(props)) = o.get_mut("properties") {
            props.values_mut().for_each(walk);
        }
        if let Some(items) = o.get_mut("items") {
            walk(items);
        }
        if let Some(Value::Array(any)) = o.get_mut("anyOf") {
            any.iter_mut().for_each(walk);
        }
    }
    walk(&mut schema);
    schema
}

/// `ANY` with one allowed name forces that function; with several the restriction is lost (no other format can
/// say "one of these"). `VALIDATED` is `AUTO` with schema checks, so it reads as `Auto`.
fn tool_choice_from(c: FunctionCallingConfig) -> Option<ToolChoice> {
    match c.mode?.to_ascii_uppercase().as_str() {
        "AUTO" | "VALIDATED" => Some(ToolChoice::Auto),
        "ANY" => Some(match <[String; 1]>::try_from(c.allowed_function_names) {
            Ok([name]) => ToolChoice::Function(name),
            Err(_) => ToolChoice::Required,
        }),
        "NONE" => Some(ToolChoice::None),
        _ => None,
    }
}

/// `thinkingBudget` 0 is off and -1 (dynamic) reads as medium effort; `thinkingLevel` sets the effort.
fn reasoning_from(t: ThinkingConfig) -> Result<Reasoning, RelayError> {
    let mut r = Reasoning { include_thoughts: t.include_thoughts.unwrap_or(false), ..Default::default() };
    match t.thinking_budget {
        Some(0) => r.disabled = true,
        Some(b) if b < 0 => r.effort = Some(Effort::Medium),
        Some(b) => r.budget_tokens = Some(b as u64),
        None => {}
    }
    if let Some(level) = t.thinking_level {
        r.effort = match level.to_ascii_uppercase().as_str() {
            "MINIMAL" => Some(Effort::Minimal),
            "LOW" => Some(Effort::Low),
            "MEDIUM" => Some(Effort::Medium),
            "HIGH" => Some(Effort::High),
            "THINKING_LEVEL_UNSPECIFIED" => r.effort,
            other => return Err(invalid(format!("unknown thinkingLevel {other:?}"))),
        };
    }
    Ok(r)
}

/// The shared representation → a Gemini request body (the model goes in the URL, not the body).
///
/// Function responses name the function they answer; the name comes from the result or from the call it answers.
/// All results answering one model turn go in one user turn, in the order of that turn's calls, as Gemini demands.
/// A thinking part's signature is replayed as `thoughtSignature` on the next text or function call of its turn
/// (on an empty text part when nothing follows); thinking text itself is not sent back.
pub fn build_request(req: &chat::Request) -> Result<Value, RelayError> {
    // Each part carries its sort key: results sort first, by their call's position in the preceding model turn.
    let mut turns: Vec<(&str, Vec<(usize, WirePart)>)> = Vec::new();
    let mut calls: Vec<&str> = Vec::new();
    for message in &req.messages {
        let (role, parts) = match message.role {
            Role::Assistant => {
                if turns.last().is_none_or(|(role, _)| *role != "model") {
                    calls.clear();
                }
                calls.extend(message.parts.iter().filter_map(|p| match p {
                    Part::ToolCall(c) => Some(c.id.as_str()),
                    _ => None,
                }));
                ("model", model_turn(&message.parts)?.into_iter().map(|p| (usize::MAX, p)).collect())
            }
            Role::User => ("user", user_turn(req, &message.parts, &calls)?),
        };
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => turns.push((role, parts)),
        }
    }
    let contents = turns
        .into_iter()
        .map(|(role, mut parts)| {
            parts.sort_by_key(|(key, _)| *key);
            Content { role: Some(role.to_string()), parts: parts.into_iter().map(|(_, p)| p).collect() }
        })
        .collect();

    let tools = if req.tools.is_empty() {
        Vec::new()
    } else {
        let declarations = req
            .tools
            .iter()
            .map(|t| FunctionDeclaration {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: None,
                parameters_json_schema: t.parameters.clone(),
            })
            .collect();
        vec![WireTool { function_declarations: declarations }]
    };
    let tool_config = req.tool_choice.as_ref().map(|choice| {
        let (mode, allowed) = match choice {
            ToolChoice::Auto => ("AUTO", Vec::new()),
            ToolChoice::Required => ("ANY", Vec::new()),
            ToolChoice::None => ("NONE", Vec::new()),
            ToolChoice::Function(name) => ("ANY", vec![name.clone()]),
        };
        ToolConfig {
            function_calling_config: Some(FunctionCallingConfig {
                mode: Some(mode.into()),
                allowed_function_names: allowed,
            }),
        }
    });
    let generation = GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        max_output_tokens: req.max_tokens,
        stop_sequences: req.stop.clone(),
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_mime_type: req.json_output.as_ref().map(|_| JSON_MIME.to_string()),
        response_schema: None,
        response_json_schema: req.json_output.as_ref().and_then(|j| j.schema.clone()),
        thinking_config: req.reasoning.map(|r| ThinkingConfig {
            thinking_budget: if r.disabled { Some(0) } else { r.budget().map(|b| b as i64) },
            include_thoughts: r.include_thoughts.then_some(true),
            thinking_level: None,
        }),
    };
    let body = GenerateContentRequest {
        system_instruction: req.system_text().map(|s| Content { role: None, parts: vec![WirePart::text(s)] }),
        contents,
        tools,
        tool_config,
        generation_config: (generation != GenerationConfig::default()).then_some(generation),
    };
    serde_json::to_value(body).map_err(|e| invalid(format!("cannot encode the Gemini request: {e}")))
}

/// A model turn's parts: text, function calls and images; thinking only lends its signature to the next part.
fn model_turn(parts: &[Part]) -> Result<Vec<WirePart>, RelayError> {
    let mut out = Vec::with_capacity(parts.len());
    let mut signature: Option<String> = None;
    for part in parts {
        match part {
            Part::Text(t) if t.is_empty() => {}
            Part::Text(t) => out.push(WirePart { thought_signature: signature.take(), ..WirePart::text(t.clone()) }),
            Part::ToolCall(c) => out.push(WirePart {
                function_call: Some(FunctionCall { id: None, name: c.name.clone(), args: Some(call_args(c)?) }),
                thought_signature: signature.take(),
                ..Default::default()
            }),
            Part::Image(image) => out.push(image_part(image)),
            Part::Thinking { signature: Some(s), .. } => {
                if let Some(earlier) = signature.replace(s.clone()) {
                    out.push(signature_part(earlier));
                }
            }
            Part::Thinking { .. } | Part::RedactedThinking(_) => {}
            Part::ToolResult(_) => return Err(invalid("a tool result cannot be part of an assistant turn")),
        }
    }
    out.extend(signature.map(signature_part));
    Ok(out)
}

/// A signature with nothing after it rides on an empty text part, as Gemini itself returns it.
fn signature_part(signature: String) -> WirePart {
    WirePart { thought_signature: Some(signature), ..WirePart::text(String::new()) }
}

/// The call's arguments as the JSON object Gemini wants; invalid JSON is the client's error, never a silent `{}`.
fn call_args(call: &ToolCall) -> Result<Value, RelayError> {
    match call.arguments_object().map_err(invalid)? {
        args @ Value::Object(_) => Ok(args),
        _ => Err(invalid(format!("the arguments of tool call {} must be a JSON object", call.id))),
    }
}

/// A user turn's parts, each with its sort key (`calls`: the call ids of the model turn being answered).
fn user_turn(req: &chat::Request, parts: &[Part], calls: &[&str]) -> Result<Vec<(usize, WirePart)>, RelayError> {
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let wire = match part {
            Part::Text(t) if t.is_empty() => continue,
            Part::Text(t) => WirePart::text(t.clone()),
            Part::Image(image) => image_part(image),
            Part::ToolResult(r) => {
                let key = calls.iter().position(|id| *id == r.call_id).unwrap_or(usize::MAX - 1);
                out.push((key, function_response(req, r)?));
                continue;
            }
            Part::Thinking { .. } | Part::RedactedThinking(_) => continue,
            Part::ToolCall(_) => return Err(invalid("a tool call cannot be part of a user turn")),
        };
        out.push((usize::MAX, wire));
    }
    Ok(out)
}

/// `{"output": …}` or `{"error": …}`: a JSON object result is sent as the object, anything else as the string.
fn function_response(req: &chat::Request, r: &ToolResult) -> Result<WirePart, RelayError> {
    let name = r.name.as_deref().or_else(|| req.tool_name_of(&r.call_id)).ok_or_else(|| {
        invalid(format!("tool result {} does not answer any tool call in the conversation", r.call_id))
    })?;
    let payload = match serde_json::from_str::<Value>(&r.content) {
        Ok(object @ Value::Object(_)) => object,
        _ => Value::String(r.content.clone()),
    };
    let mut response = Map::new();
    response.insert(if r.is_error { "error" } else { "output" }.into(), payload);
    Ok(WirePart {
        function_response: Some(FunctionResponse { id: None, name: name.to_string(), response: response.into() }),
        ..Default::default()
    })
}

/// Inline images as `inlineData`. A URL becomes `fileData`: Gemini fetches only URIs it knows (its Files API,
/// YouTube, …) and may refuse others; downloading is the dispatcher's business, not an adaptor's.
fn image_part(image: &Image) -> WirePart {
    let inline = |mime: &str, data: &str| WirePart {
        inline_data: Some(Blob { mime_type: mime.to_string(), data: data.to_string() }),
        ..Default::default()
    };
    match image {
        Image::Inline { mime, data } => inline(mime, data),
        Image::Url(url) => match Image::from_url(url) {
            Image::Inline { mime, data } => inline(&mime, &data),
            Image::Url(url) => WirePart {
                file_data: Some(FileData { mime_type: guess_mime(&url), file_uri: url }),
                ..Default::default()
            },
        },
    }
}

/// The image type from the URL's extension (JPEG when unknown). Google-hosted URIs (Files API, YouTube, Cloud
/// Storage) are left untyped: Gemini knows their type, and a guessed `image/jpeg` on a PDF or video would be wrong.
fn guess_mime(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file = path.rsplit('/').next().unwrap_or(path);
    let extension = file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let mime = match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ if is_google_uri(path) => return None,
        _ => "image/jpeg",
    };
    Some(mime.to_string())
}

fn is_google_uri(url: &str) -> bool {
    let host = url.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
    url.starts_with("gs://")
        || host == "generativelanguage.googleapis.com"
        || host == "youtu.be"
        || host == "youtube.com"
        || host.ends_with(".youtube.com")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// wire-formats §5.2.
    const SPEC_REQUEST: &str = r#"{
      "systemInstruction": {"parts": [{"text": "You are terse."}]},
      "contents": [
        {"role": "user", "parts": [
          {"text": "What is in this image, and what is the weather in Paris?"},
          {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
          {"fileData": {"mimeType": "application/pdf", "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc123"}}]},
        {"role": "model", "parts": [
          {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQBVKhc7mR"}]},
        {"role": "user", "parts": [
          {"functionResponse": {"name": "get_weather", "response": {"output": {"temp_c": 21}}}}]}
      ],
      "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}],
      "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
      "generationConfig": {"temperature": 0.7, "maxOutputTokens": 2048, "stopSequences": ["\n\nEND"],
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}},
      "safetySettings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_ONLY_HIGH"}]
    }"#;

    fn call(id: &str, name: &str, arguments: &str) -> Part {
        Part::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments: arguments.into() })
    }

    fn result(call_id: &str, content: &str) -> Part {
        Part::ToolResult(ToolResult { call_id: call_id.into(), name: None, content: content.into(), is_error: false })
    }

    #[test]
    fn the_spec_request_reads_into_the_shared_shape() {
        let r = parse_request(SPEC_REQUEST.as_bytes(), "gemini-2.5-flash").unwrap();
        assert_eq!(r.model, "gemini-2.5-flash");
        assert_eq!(r.system, vec!["You are terse.".to_string()]);
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.messages[0].role, Role::User);
        assert_eq!(
            r.messages[0].parts[1..],
            [
                Part::Image(Image::Inline { mime: "image/png".into(), data: "iVBORw0KGgo=".into() }),
                Part::Image(Image::Url("https://generativelanguage.googleapis.com/v1beta/files/abc123".into())),
            ]
        );
        assert_eq!(r.messages[1].role, Role::Assistant);
        assert_eq!(
            r.messages[1].parts,
            [
                Part::Thinking { text: String::new(), signature: Some("CiQBVKhc7mR".into()) },
                call("call_0", "get_weather", r#"{"city":"Paris"}"#),
            ]
        );
        assert_eq!(
            r.messages[2].parts,
            [Part::ToolResult(ToolResult {
                call_id: "call_0".into(),
                name: Some("get_weather".into()),
                content: r#"{"temp_c":21}"#.into(),
                is_error: false,
            })]
        );
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tools[0].parameters.as_ref().unwrap()["required"], json!(["city"]));
        assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
        assert_eq!((r.temperature, r.max_tokens), (Some(0.7), Some(2048)));
        assert_eq!(r.stop, vec!["\n\nEND".to_string()]);
        assert_eq!(
            r.reasoning,
            Some(Reasoning { budget_tokens: Some(1024), include_thoughts: true, ..Default::default() })
        );
        assert!(!r.stream);
    }

    #[test]
    fn a_parsed_request_builds_back_with_system_images_tools_results_and_thinking() {
        let body = build_request(&parse_request(SPEC_REQUEST.as_bytes(), "m").unwrap()).unwrap();
        assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "You are terse."}]}));
        assert_eq!(
            body["contents"][0]["parts"][1],
            json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})
        );
        assert_eq!(
            body["contents"][0]["parts"][2],
            json!({"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc123"}})
        );
        assert_eq!(
            body["contents"][1],
            json!({"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQBVKhc7mR"}]})
        );
        assert_eq!(
            body["contents"][2],
            json!({"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": {"temp_c": 21}}}}]})
        );
        assert_eq!(
            body["tools"],
            json!([{"functionDeclarations": [{"name": "get_weather", "description": "Current weather for a city",
                "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]}}]}])
        );
        assert_eq!(body["toolConfig"], json!({"functionCallingConfig": {"mode": "AUTO"}}));
        assert_eq!(
            body["generationConfig"],
            json!({"temperature": 0.7, "maxOutputTokens": 2048, "stopSequences": ["\n\nEND"],
                "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}})
        );
        assert!(body.get("safetySettings").is_none() && body.get("model").is_none());
    }

    #[test]
    fn tool_results_for_one_turn_are_grouped_into_one_user_turn_in_call_order() {
        let mut req = chat::Request { system: vec!["a".into(), "b".into()], ..Default::default() };
        req.push(Role::User, Part::Text("weather in Paris and Rome?".into()));
        req.push(Role::Assistant, Part::Thinking { text: "two calls".into(), signature: None });
        req.push(Role::Assistant, call("call_p", "get_weather", r#"{"city":"Paris"}"#));
        req.push(Role::Assistant, call("call_r", "get_time", ""));
        // OpenAI tool messages carry no name and may come in any order; each is its own message here.
        req.messages.push(chat::Message { role: Role::User, parts: vec![result("call_r", "12:00")] });
        req.messages.push(chat::Message { role: Role::User, parts: vec![result("call_p", r#"{"temp_c":21}"#)] });
        req.push(Role::User, Part::Text("thanks".into()));

        let body = build_request(&req).unwrap();
        assert_eq!(body["systemInstruction"]["parts"], json!([{"text": "a\n\nb"}]));
        let contents = body["contents"].as_array().unwrap();
        assert_eq!(contents.len(), 3);
        assert_eq!(
            contents[1]["parts"],
            json!([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                   {"functionCall": {"name": "get_time", "args": {}}}])
        );
        assert_eq!(
            contents[2],
            json!({"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": {"temp_c": 21}}}},
                {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}},
                {"text": "thanks"}]})
        );
    }

    #[test]
    fn responses_find_their_calls_by_name_in_order_and_keep_errors() {
        let body = br#"{"contents": [
          {"parts": [{"text": "go"}]},
          {"role": "model", "parts": [
            {"functionCall": {"name": "f", "args": {"n": 1}}},
            {"functionCall": {"name": "f", "args": {"n": 2}}},
            {"functionCall": {"name": "g"}}]},
          {"role": "user", "parts": [
            {"functionResponse": {"name": "g", "response": {"error": "boom"}}},
            {"functionResponse": {"name": "f", "response": {"output": "one"}}},
            {"functionResponse": {"name": "f", "response": {"temp": 2}}}]}]}"#;
        let r = parse_request(body, "m").unwrap();
        let results: Vec<_> = r.messages[2]
            .parts
            .iter()
            .map(|p| match p {
                Part::ToolResult(t) => (t.call_id.as_str(), t.content.as_str(), t.is_error),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(results, [("call_2", "boom", true), ("call_0", "one", false), ("call_1", r#"{"temp":2}"#, false)]);
        assert_eq!(r.messages[1].parts[2], call("call_2", "g", "{}"));

        let rebuilt = build_request(&r).unwrap();
        assert_eq!(
            rebuilt["contents"][2]["parts"][0],
            json!({"functionResponse": {"name": "f", "response": {"output": "one"}}})
        );
        assert_eq!(
            rebuilt["contents"][2]["parts"][2],
            json!({"functionResponse": {"name": "g", "response": {"error": "boom"}}})
        );
    }

    #[test]
    fn thoughts_and_signatures_read_and_replay_on_the_right_part() {
        let body = br#"{"contents": [{"role": "user", "parts": [{"text": "hi"}]},
          {"role": "model", "parts": [
            {"text": "pondering", "thought": true},
            {"text": "Hello", "thoughtSignature": "sigA"},
            {"text": "", "thoughtSignature": "sigB"}]}]}"#;
        let r = parse_request(body, "m").unwrap();
        assert_eq!(
            r.messages[1].parts,
            [
                Part::Thinking { text: "pondering".into(), signature: None },
                Part::Thinking { text: String::new(), signature: Some("sigA".into()) },
                Part::Text("Hello".into()),
                Part::Thinking { text: String::new(), signature: Some("sigB".into()) },
            ]
        );
        let rebuilt = build_request(&r).unwrap();
        assert_eq!(
            rebuilt["contents"][1]["parts"],
            json!([{"text": "Hello", "thoughtSignature": "sigA"}, {"text": "", "thoughtSignature": "sigB"}])
        );
    }

    #[test]
    fn thinking_config_maps_budgets_and_levels() {
        let parse = |config: &str| {
            let body = format!(
                r#"{{"contents":[{{"parts":[{{"text":"x"}}]}}],"generationConfig":{{"thinkingConfig":{config}}}}}"#
            );
            parse_request(body.as_bytes(), "m").map(|r| r.reasoning.unwrap())
        };
        assert!(parse(r#"{"thinkingBudget":0}"#).unwrap().disabled);
        assert_eq!(parse(r#"{"thinkingBudget":-1}"#).unwrap().effort, Some(Effort::Medium));
        assert_eq!(parse(r#"{"thinkingLevel":"HIGH"}"#).unwrap().effort, Some(Effort::High));
        assert_eq!(parse(r#"{"thinking_level":"low"}"#).unwrap().effort, Some(Effort::Low));
        assert!(parse(r#"{"thinkingLevel":"EXTREME"}"#).is_err());

        let mut req = chat::Request::default();
        req.push(Role::User, Part::Text("x".into()));
        req.reasoning = Some(Reasoning { disabled: true, ..Default::default() });
        assert_eq!(build_request(&req).unwrap()["generationConfig"], json!({"thinkingConfig": {"thinkingBudget": 0}}));
        req.reasoning = Some(Reasoning { effort: Some(Effort::Low), include_thoughts: true, ..Default::default() });
        assert_eq!(
            build_request(&req).unwrap()["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 2048, "includeThoughts": true})
        );
    }

    #[test]
    fn generation_settings_json_output_and_tool_choice_translate_both_ways() {
        let body = br#"{"contents": [{"parts": [{"text": "x"}]}],
          "tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "pick",
            "parameters": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"},
              "tags": {"type": "ARRAY", "items": {"type": "STRING"}}}}}]}],
          "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["pick"]}},
          "generationConfig": {"topP": 0.9, "topK": 40, "seed": 7, "presencePenalty": 0.1, "frequencyPenalty": 0.2,
            "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}}}"#;
        let r = parse_request(body, "m").unwrap();
        assert_eq!(
            r.tools[0].parameters,
            Some(json!({"type": "object", "properties": {"n": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}}}}))
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Function("pick".into())));
        assert_eq!((r.top_p, r.top_k, r.seed), (Some(0.9), Some(40), Some(7)));
        assert_eq!((r.presence_penalty, r.frequency_penalty), (Some(0.1), Some(0.2)));
        assert_eq!(r.json_output, Some(JsonOutput { schema: Some(json!({"type": "object"})), name: None }));

        let rebuilt = build_request(&r).unwrap();
        assert_eq!(
            rebuilt["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["pick"]}})
        );
        assert_eq!(
            rebuilt["generationConfig"],
            json!({"topP": 0.9, "topK": 40, "seed": 7, "presencePenalty": 0.1, "frequencyPenalty": 0.2,
                "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}})
        );
        for (choice, want) in [
            (ToolChoice::Required, json!({"mode": "ANY"})),
            (ToolChoice::None, json!({"mode": "NONE"})),
            (ToolChoice::Auto, json!({"mode": "AUTO"})),
        ] {
            let req = chat::Request { tool_choice: Some(choice), ..r.clone() };
            assert_eq!(build_request(&req).unwrap()["toolConfig"]["functionCallingConfig"], want);
        }
    }

    #[test]
    fn image_urls_become_file_data_with_a_guessed_type() {
        let mut req = chat::Request::default();
        for url in ["https://x.test/a/cat.PNG?size=2", "https://x.test/photo", "data:image/gif;base64,R0lG"] {
            req.push(Role::User, Part::Image(Image::Url(url.into())));
        }
        req.push(Role::User, Part::Image(Image::Url("https://www.youtube.com/watch?v=abc".into())));
        let parts = build_request(&req).unwrap()["contents"][0]["parts"].clone();
        assert_eq!(
            parts,
            json!([
                {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a/cat.PNG?size=2"}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/photo"}},
                {"inlineData": {"mimeType": "image/gif", "data": "R0lG"}},
                {"fileData": {"fileUri": "https://www.youtube.com/watch?v=abc"}},
            ])
        );
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        for (body, want) in [
            (&br#"{"contents": []}"#[..], "non-empty"),
            (br#"{"generationConfig": {}}"#, "non-empty"),
            (b"not json", "invalid Gemini request body"),
            (br#"[{"contents": [{"parts": [{"text": "x"}]}]}]"#, "JSON object"),
            (br#"{"contents": "hi"}"#, "invalid Gemini request body"),
            (br#"{"contents": [{"role": "system", "parts": [{"text": "x"}]}]}"#, "role"),
            (br#"{"contents": [{"role": "user", "parts": []}]}"#, "no parts"),
            (br#"{"contents": [{"parts": [{"executableCode": {"code": "1"}}]}]}"#, "parts only"),
            (br#"{"contents": [{"parts": [{"functionResponse": {"name": "f", "response": {}}}]}]}"#, "earlier"),
            (br#"{"contents": [{"parts": [{"functionCall": {"name": "f"}}]}]}"#, "belong in model turns"),
        ] {
            let err = parse_request(body, "m").unwrap_err();
            assert!(matches!(err, RelayError::InvalidRequest(_)), "{err:?}");
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn invalid_tool_arguments_and_unknown_results_are_the_clients_error() {
        for (parts, want) in
            [(vec![call("c1", "f", "{oops")], "not valid JSON"), (vec![call("c1", "f", "[1, 2]")], "JSON object")]
        {
            let mut req = chat::Request::default();
            req.push(Role::User, Part::Text("x".into()));
            req.messages.push(chat::Message { role: Role::Assistant, parts });
            let err = build_request(&req).unwrap_err();
            assert!(matches!(err, RelayError::InvalidRequest(_)) && err.to_string().contains(want), "{err}");
        }
        let mut req = chat::Request::default();
        req.push(Role::User, result("call_nowhere", "x"));
        let err = build_request(&req).unwrap_err();
        assert!(err.to_string().contains("call_nowhere"), "{err}");
    }
}
