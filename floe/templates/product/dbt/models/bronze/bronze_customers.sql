select id as customer_id, name, country, cast(signup_date as date) as signup_date
from {{ ref('raw_customers') }}
