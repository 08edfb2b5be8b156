-- wrk script: the product-detail query (title, lowest price, seller, rating and every SKU
-- with its stock and price) for a product drawn at random from the first BAZAAR_BENCH_SPREAD
-- lines (all when unset or 0) of the file BAZAAR_BENCH_IDS, one product id per line. The id
-- goes in a variable, as GraphQL clients send arguments, so every request has the same query
-- text; BAZAAR_BENCH_INLINE=1 writes it into the text instead, one text per product.
dofile("scripts/bench/errors.lua")
expect = '"title"'
local path = os.getenv("BAZAAR_BENCH_IDS")
local spread = tonumber(os.getenv("BAZAAR_BENCH_SPREAD") or "0")
local fields = 'id title price { amount currency } seller { name } rating reviewCount skus { id available price { amount currency } }'
local ids = {}

function prepare()
  for line in io.lines(path) do
    if spread > 0 and #ids >= spread then break end
    table.insert(ids, line)
  end
  math.randomseed(os.time() * 100 + seed)
end

function request()
  local id = ids[math.random(#ids)]
  local body = graphql_body(
    'query Product($id: ID!) { product(id: $id, currency: \\"EUR\\") { ' .. fields .. ' } }',
    string.format('{"id":"%s"}', id),
    string.format('{ product(id: \\"%s\\", currency: \\"EUR\\") { %s } }', id, fields))
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json"}, body)
end
