-- Shared by the wrk scripts (loaded with dofile from the repository's root): counts every
-- response that is not a 200, that carries GraphQL errors, or that lacks `expect` when the
-- script sets it, so a fast error is not mistaken for a result; prints graphql_errors=N.
-- A script may define prepare(), run once per thread after `id` and `seed` are set. Also
-- graphql_body(), below.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  thread:set("seed", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  if prepare then prepare() end
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true)
      or (expect and not string.find(body, expect, 1, true)) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("errors")
  end
  io.write(string.format("graphql_errors=%d\n", total))
end

-- The JSON body of a GraphQL request: `text` with `variables` (a JSON object), as GraphQL
-- clients send arguments, or `inline` (the same query with the arguments written into it)
-- when BAZAAR_BENCH_INLINE=1. Both are JSON string contents, escaped by the caller.
local inline_arguments = os.getenv("BAZAAR_BENCH_INLINE") == "1"

function graphql_body(text, variables, inline)
  if inline_arguments then
    return string.format('{"query":"%s"}', inline)
  end
  return string.format('{"query":"%s","variables":%s}', text, variables)
end
