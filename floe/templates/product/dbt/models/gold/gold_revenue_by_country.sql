select country, count(*) as orders, sum(amount) as revenue
from {{ ref('silver_customer_orders') }}
group by country
